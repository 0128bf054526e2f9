"""The client's message timeline, driven in the browser with every arrival order.

Acks, broadcasts, sync answers and history pages reach the page in any order; whatever
the order, the timeline must only ever hold one unbroken run of seqs with no message
twice, and end up with all of them.
"""

from __future__ import annotations

import pytest

from tests.e2e.pages import NewPage

pytestmark = pytest.mark.e2e

# Runs in the page: a fake server log of N messages, and random interleavings of
# live deliveries (each message once or twice, in random order), sync requests whose
# answers come back later, and history pages. After every step the timeline must be
# gap-free and duplicate-free; after a final sync it must hold all N.
FUZZ = """
async ({ runs, seed }) => {
  const { Timeline } = await import('/timeline.js');
  let state = seed;
  const rand = (n) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % n;
  };
  const msg = (seq) => ({ id: `id${seq}`, seq, room: 'r', message: `m${seq}` });
  const check = (tl, where) => {
    const seqs = tl.messages.map((m) => m.seq);
    for (let i = 1; i < seqs.length; i++) {
      if (seqs[i] !== seqs[i - 1] + 1) throw new Error(`${where}: gap or duplicate ${seqs}`);
    }
    if (new Set(tl.messages.map((m) => m.id)).size !== seqs.length) {
      throw new Error(`${where}: duplicate id`);
    }
  };
  for (let run = 0; run < runs; run++) {
    const n = 5 + rand(40);
    const start = rand(n); // messages stored when the page loaded its latest page
    const first = Math.max(1, start - rand(10));
    const tail = [];
    for (let s = first; s <= start; s++) tail.push(msg(s));
    const tl = new Timeline();
    tl.loadTail(tail, tail.length > 0 && first > 1);
    let posted = start; // what the server has stored so far
    const deliveries = []; // live messages on their way to the page
    const answers = []; // sync answers on their way: [from, messages]
    let steps = 0;
    while (posted < n || deliveries.length || answers.length) {
      if (++steps > 10000) throw new Error('no progress');
      const choice = rand(10);
      if (choice < 3 && posted < n) {
        posted += 1;
        deliveries.push(msg(posted));
        if (rand(4) === 0) deliveries.push(msg(posted)); // ack and broadcast
      } else if (choice < 7 && deliveries.length) {
        const [m] = deliveries.splice(rand(deliveries.length), 1);
        if (tl.addLive(m) === 'gap' && tl.syncing === 0) {
          const from = tl.beginSync();
          const upTo = posted;
          answers.push([from, upTo]);
        }
      } else if (choice < 9 && answers.length) {
        const [[from, upTo]] = answers.splice(rand(answers.length), 1);
        const page = [];
        for (let s = from + 1; s <= upTo; s++) page.push(msg(s));
        tl.endSync(page);
      } else if (tl.lo != null && tl.lo > 1) {
        const before = tl.lo;
        const page = [];
        for (let s = Math.max(1, before - 1 - rand(5)); s < before; s++) page.push(msg(s));
        tl.prependHistory(page, page[0].seq > 1);
      } else if (posted < n) {
        posted += 1;
        deliveries.push(msg(posted));
      }
      check(tl, `run ${run} step ${steps}`);
    }
    // A reconnect's sync brings whatever is still missing.
    const from = tl.beginSync();
    const page = [];
    for (let s = from + 1; s <= n; s++) page.push(msg(s));
    tl.endSync(page);
    // And scrolling up brings the rest of the history.
    while (tl.hasMore) {
      const older = [];
      for (let s = Math.max(1, tl.lo - 3); s < tl.lo; s++) older.push(msg(s));
      tl.prependHistory(older, older[0].seq > 1);
    }
    check(tl, `run ${run} end`);
    const seqs = tl.messages.map((m) => m.seq).join();
    const all = [...Array(n).keys()].map((i) => i + 1).join();
    if (seqs !== all || tl.hasGap) throw new Error(`run ${run}: ended with ${seqs} of ${n}`);
  }
  return runs;
}
"""


async def test_any_arrival_order_gives_one_unbroken_run(server_url: str, new_page: NewPage) -> None:
    page = await new_page(server_url)
    for seed in (1, 7, 2026):
        assert await page.evaluate(FUZZ, {"runs": 300, "seed": seed}) == 300


async def test_sync_holds_live_messages_until_it_answers(
    server_url: str, new_page: NewPage
) -> None:
    page = await new_page(server_url)
    result = await page.evaluate(
        """async () => {
            const { Timeline } = await import('/timeline.js');
            const msg = (seq) => ({ id: `id${seq}`, seq });
            const seqs = (tl) => tl.messages.map((m) => m.seq);
            const tl = new Timeline();
            tl.loadTail([msg(1), msg(2)], true);
            const from = tl.beginSync();            // reconnected: ask for > 2
            const held = [tl.addLive(msg(5)), tl.addLive(msg(4))];  // broadcasts first
            const during = seqs(tl);
            tl.endSync([msg(3), msg(4)]);           // the answer, then
            const after = seqs(tl);
            const dup = tl.addLive(msg(5));         // the ack of an outbox resend
            const gap = tl.addLive(msg(7));         // 6 is missing
            const withGap = seqs(tl);
            tl.addLive(msg(6));
            tl.prependHistory([msg(0), msg(1)], false);
            tl.loadTail([msg(5), msg(6), msg(7)], false);   // join-room again
            return { from, held, during, after, dup, gap, withGap, end: seqs(tl),
                     hasMore: tl.hasMore };
        }"""
    )
    assert result == {
        "from": 2,
        "held": ["held", "held"],
        "during": [1, 2],
        "after": [1, 2, 3, 4, 5],
        "dup": "duplicate",
        "gap": "gap",
        "withGap": [1, 2, 3, 4, 5],
        "end": [0, 1, 2, 3, 4, 5, 6, 7],
        "hasMore": False,
    }


# The event log: a fake server whose log mixes messages with edits, deletes and reactions
# (each entry takes the next seq), delivered live in random order (messages sometimes
# twice), with sync answers (what was posted after `from`, and what was changed after it,
# as it stood when read), join-room pages and history pages read at random moments. After
# every step the page shows exactly the server's messages between its lo and hi, once
# each; after a final sync and the rest of the history, every message is as the server
# has it: text, tombstone and reactions.
EVENT_LOG_FUZZ = """
async ({ runs, seed }) => {
  const { Timeline } = await import('/timeline.js');
  let state = seed;
  const rand = (n) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return (state >>> 16) % n; // the high bits: the low ones of this generator cycle
  };
  const PEOPLE = ['ann', 'ben', 'cy'];
  const EMOJI = ['👍', '🎉'];
  for (let run = 0; run < runs; run++) {
    const log = []; // log[seq - 1]: {msg} or {change}
    const versions = []; // versions[seq - 1]: id -> message as it stood at seq
    let current = new Map(); // id -> message now
    const append = (entry, next) => {
      log.push(entry);
      current = new Map(current);
      current.set(next.id, next);
      versions.push(current);
    };
    const post = () => {
      const seq = log.length + 1;
      const m = { id: `id${seq}`, seq, room: 'r', message: `m${seq}`, editedAt: null,
                  deleted: false, reactions: [], replyTo: null };
      append({ msg: m }, m);
    };
    const change = () => {
      const live = [...current.values()].filter((m) => !m.deleted);
      if (live.length === 0) return post();
      const target = live[rand(live.length)];
      const seq = log.length + 1;
      const kind = ['edit', 'reaction', 'reaction', 'delete'][rand(4)];
      let next;
      let c;
      if (kind === 'edit') {
        c = { kind, seq, id: target.id, message: `e${seq}`, editedAt: `t${seq}` };
        next = { ...target, message: c.message, editedAt: c.editedAt };
      } else if (kind === 'delete') {
        c = { kind, seq, id: target.id };
        next = { ...target, deleted: true, message: '', reactions: [] };
      } else {
        const emoji = EMOJI[rand(EMOJI.length)];
        const username = PEOPLE[rand(PEOPLE.length)];
        const old = target.reactions.find((r) => r.emoji === emoji);
        const on = !old?.usernames.includes(username);
        const names = on ? [...(old?.usernames ?? []), username]
          : old.usernames.filter((n) => n !== username);
        const reactions = names.length === 0
          ? target.reactions.filter((r) => r.emoji !== emoji)
          : old ? target.reactions.map((r) => r.emoji === emoji
              ? { emoji, count: names.length, usernames: names } : r)
          : [...target.reactions, { emoji, count: names.length, usernames: names }];
        c = { kind, seq, id: target.id, emoji, on, count: names.length, username };
        next = { ...target, reactions };
      }
      append({ change: c }, next);
    };
    const at = (pos) => (pos === 0 ? new Map() : versions[pos - 1]);
    const messagesAt = (pos) => [...at(pos).values()].sort((a, b) => a.seq - b.seq);
    const syncAnswer = (from, upTo) => {
      const changed = new Set();
      for (let s = from + 1; s <= upTo; s++) {
        const e = log[s - 1];
        changed.add(e.msg ? e.msg.id : e.change.id);
      }
      return messagesAt(upTo).filter((m) => changed.has(m.id));
    };
    const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
    const check = (tl, where) => {
      const shown = tl.messages.map((m) => m.seq);
      if (new Set(tl.messages.map((m) => m.id)).size !== shown.length) {
        throw new Error(`${where}: duplicate id`);
      }
      if (tl.lo == null) return;
      const want = messagesAt(log.length).filter((m) => m.seq >= tl.lo && m.seq <= tl.hi)
        .map((m) => m.seq);
      if (!same(shown, want)) throw new Error(`${where}: shows ${shown}, server ${want}`);
    };
    const n = 10 + rand(40);
    for (let i = 0, k = rand(12); i < k; i++) rand(3) === 0 ? change() : post();
    const start = log.length;
    const page = messagesAt(start).slice(-1 - rand(6));
    const tl = new Timeline();
    const loaded = tl.loadTail(page, page.length > 0 && page[0].seq > 1, start);
    const answers = []; // [from, upTo] on their way
    if (loaded === 'gap') answers.push([tl.beginSync(), start]);
    const deliveries = []; // live entries on their way to the page
    let cut = false; // disconnected: live entries are lost, the reconnect syncs
    let olderFrom = null; // the `before` of a history request on its way
    let olderAt = 0; // the log position its answer was read at
    let steps = 0;
    while (log.length < n || deliveries.length || answers.length || olderFrom != null) {
      if (++steps > 20000) throw new Error('no progress');
      const choice = rand(12);
      if (choice < 4 && log.length < n) {
        rand(2) === 0 ? post() : change();
        const e = log.at(-1);
        if (!cut) deliveries.push(e);
        if (!cut && e.msg && rand(4) === 0) deliveries.push(e); // ack and broadcast
      } else if (choice < 7 && deliveries.length) {
        // One socket delivers in order, mostly: an ack may overtake a broadcast.
        const [e] = deliveries.splice(rand(4) === 0 ? rand(deliveries.length) : 0, 1);
        const got = e.msg ? tl.addLive(e.msg) : tl.addChange(e.change);
        if (got === 'gap' && tl.syncing === 0) answers.push([tl.beginSync(), log.length]);
      } else if (choice < 9 && answers.length) {
        const [[from, upTo]] = answers.splice(rand(answers.length), 1);
        tl.endSync(syncAnswer(from, upTo), upTo);
      } else if (choice < 10 && olderFrom == null && tl.lo != null && tl.hasMore) {
        // Read now, answered later: changes made meanwhile may reach the page first.
        tl.beginOlder();
        olderFrom = tl.lo;
        olderAt = log.length;
      } else if (choice < 10 && olderFrom != null) {
        const older = messagesAt(olderAt).filter((m) => m.seq < olderFrom).slice(-3);
        if (tl.lo === olderFrom) tl.prependHistory(older, older.length > 0 && older[0].seq > 1);
        else tl.endOlder(); // the timeline was replaced meanwhile: the page does not fit
        olderFrom = null;
      } else if (choice < 11) {
        cut = !cut;
        if (!cut) answers.push([tl.beginSync(), log.length]); // reconnected
      } else if (!cut && tl.syncing === 0 && answers.length === 0) {
        // join-room again: the latest page as it stands, and the room's position.
        const page2 = messagesAt(log.length).slice(-5);
        if (tl.loadTail(page2, page2.length > 0 && page2[0].seq > 1, log.length) === 'gap') {
          answers.push([tl.beginSync(), log.length]);
        }
      }
      check(tl, `run ${run} step ${steps}`);
    }
    const from = tl.beginSync();
    tl.endSync(syncAnswer(from, log.length), log.length);
    while (tl.hasMore) {
      const older = messagesAt(log.length).filter((m) => m.seq < tl.lo).slice(-3);
      tl.beginOlder();
      tl.prependHistory(older, older.length > 0 && older[0].seq > 1);
    }
    check(tl, `run ${run} end`);
    const want = messagesAt(log.length);
    if (tl.hasGap || !same(tl.messages, want)) {
      throw new Error(`run ${run}: ended with ${JSON.stringify(tl.messages)}
        server ${JSON.stringify(want)}`);
    }
  }
  return runs;
}
"""


async def test_edits_deletes_and_reactions_in_any_order_end_as_the_server_has_them(
    server_url: str, new_page: NewPage
) -> None:
    page = await new_page(server_url)
    for seed in (3, 11, 2026):
        assert await page.evaluate(EVENT_LOG_FUZZ, {"runs": 200, "seed": seed}) == 200
