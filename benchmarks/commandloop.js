// The line protocol between a Python runner and a generator it spawned: one JSON command a
// line on stdin, one JSON event a line on stdout.
'use strict';

const readline = require('readline');

const say = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

// Runs commands[c.cmd](c) for each command line, until stdin ends.
function serveCommands(commands) {
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    const c = JSON.parse(line);
    const f = commands[c.cmd];
    if (f === undefined) say({ ev: 'error', error: `unknown command ${c.cmd}` });
    else f(c);
  });
  process.stdin.on('end', () => process.exit(0)); // the runner went away: so do we
}

module.exports = { say, serveCommands };
