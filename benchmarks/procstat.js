// CPU time of groups of processes, read from /proc, for the load generator.
//
// A group is { name, counted, sid } (every process of one session: a server we started
// and whatever it forked), { pgDatabase } (the PostgreSQL backends serving one database,
// known by their process title, "postgres: <cluster>: <user> <database> ...") or
// { pgAll: true } (every postgres process). One pass over /proc reads every group.
'use strict';

const fs = require('fs');

function readOr(path, fallback) {
  try { return fs.readFileSync(path, 'latin1'); } catch { return fallback; }
}

// CPU ticks (utime + stime, all threads) of every process of every group, by group name.
function cpuSnapshot(groups) {
  const snap = {};
  for (const g of groups) snap[g.name] = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const s = readOr(`/proc/${name}/stat`, null);
    if (s === null) continue;
    const close = s.lastIndexOf(')');
    const f = s.slice(close + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]);
    const comm = s.slice(s.indexOf('(') + 1, close);
    let title = null;
    for (const g of groups) {
      let match = false;
      if (g.sid !== undefined) match = Number(f[3]) === g.sid;
      else if (comm === 'postgres') {
        if (g.pgAll) match = true;
        else if (g.pgDatabase) {
          if (title === null) title = readOr(`/proc/${name}/cmdline`, '').replace(/\0/g, ' ');
          match = title.includes(` ${g.pgDatabase} `);
        }
      }
      if (match) snap[g.name].set(Number(name), ticks);
    }
  }
  return snap;
}

// CPU seconds per group between two snapshots, and the sum of the counted groups. A
// process that ended in between takes its CPU with it (counted in `vanished`); one that
// started in between counts whole.
function cpuBetween(groups, a, b, clkTck) {
  const out = { total: 0, by: {}, vanished: 0 };
  for (const g of groups) {
    let ticks = 0;
    for (const [pid, t] of b[g.name]) ticks += t - (a[g.name].get(pid) ?? 0);
    for (const pid of a[g.name].keys()) if (!b[g.name].has(pid)) out.vanished += 1;
    out.by[g.name] = ticks / clkTck;
    if (g.counted) out.total += ticks / clkTck;
  }
  return out;
}

module.exports = { cpuSnapshot, cpuBetween };
