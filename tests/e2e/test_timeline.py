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
