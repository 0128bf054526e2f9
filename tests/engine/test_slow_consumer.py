"""A client that stops reading is disconnected once its buffer passes the bound; the
others get everything, unslowed."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
import websockets

from rtchat.engine import EngineOptions
from tests.engine.support import echo_server, running_engine
from tests.engine.wire import open_polling, poll, post, recv, ws_url

READERS_IN_BUDGET_TEST = 4

TEXT = "x" * 9000
COUNT = 1500  # 13.5 MB: more than loopback's socket buffers hold


async def _member(base: str, *, max_queue: int | None = 16) -> websockets.ClientConnection:
    ws = await websockets.connect(
        ws_url(base), max_size=None, max_queue=max_queue, close_timeout=0.5
    )
    await recv(ws)  # handshake
    await ws.send("40")
    await recv(ws)  # CONNECT ack
    await recv(ws)  # hello
    await ws.send('421["join","lobby"]')
    assert await recv(ws) == '431["joined"]'
    return ws


async def _read_to_the_end(ws: websockets.ClientConnection) -> None:
    for _ in range(COUNT + 10):  # never more than was sent
        await recv(ws)


async def test_slow_consumer_is_cut_off_and_others_get_everything(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "rtchat.engine")
    sio = echo_server(EngineOptions(max_buffered=256 * 1024))
    async with running_engine(sio) as base:
        slow = await _member(base, max_queue=1)  # stops reading after one queued frame
        fast = await _member(base)
        shouter = await _member(base)
        received = 0

        async def read_fast() -> None:
            nonlocal received
            while received < COUNT:
                message = await recv(fast)
                if message == '42["shout","' + TEXT + '"]':
                    received += 1

        reader = asyncio.create_task(read_fast())
        for _ in range(COUNT):
            await shouter.send('421["shout","lobby","' + TEXT + '"]')
            assert await recv(shouter) == "431[]"  # paced by the server, not by the slow one
        await asyncio.wait_for(reader, 30)
        assert received == COUNT
        for _ in range(100):
            if "slow consumer" in sio.reasons:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.05)
        assert sio.reasons == ["slow consumer"]  # type: ignore[attr-defined]
        (dropped,) = [r for r in caplog.records if "slow consumer" in r.getMessage()]
        assert dropped.levelno == logging.INFO
        assert dropped.exc_info is None
        assert "bytes unsent, over the bound of 262144" in dropped.getMessage()
        # What it was sent ends with a close frame that says why (if it reads in time).
        with pytest.raises(websockets.ConnectionClosed):
            await _read_to_the_end(slow)
        assert (slow.close_code, slow.close_reason) == (1008, "slow consumer")
        for ws in (fast, shouter):
            await ws.close()


async def test_polling_client_that_never_polls_is_cut_off() -> None:
    sio = echo_server(EngineOptions(max_buffered=256 * 1024))
    async with running_engine(sio) as base, aiohttp.ClientSession() as http:
        sid, _ = await open_polling(http, base)
        await post(http, base, sid, "40")
        await poll(http, base, sid)  # the CONNECT ack
        await poll(http, base, sid)  # hello
        await post(http, base, sid, '421["join","lobby"]')  # its answer is never fetched
        shouter = await _member(base)
        for _ in range(300):
            await shouter.send('421["shout","lobby","' + TEXT + '"]')
            assert await recv(shouter) == "431[]"
        assert (await poll(http, base, sid))[0] == 400
        assert "slow consumer" in sio.reasons  # type: ignore[attr-defined]
        await shouter.close()


async def test_over_the_output_budget_the_biggest_backlogs_go_first(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Far below their own bound, the readers that stopped are dropped once together they
    # hold more than the budget; the one that reads gets everything.
    caplog.set_level(logging.INFO, "rtchat.engine")
    options = EngineOptions(max_buffered=64 * 1024 * 1024, output_budget=1024 * 1024)
    sio = echo_server(options)
    async with running_engine(sio) as base:
        stopped = [await _member(base, max_queue=1) for _ in range(READERS_IN_BUDGET_TEST)]
        fast = await _member(base)
        shouter = await _member(base)
        received = 0

        async def read_fast() -> None:
            nonlocal received
            while received < COUNT:
                if await recv(fast) == '42["shout","' + TEXT + '"]':
                    received += 1

        reader = asyncio.create_task(read_fast())
        for _ in range(COUNT):
            await shouter.send('421["shout","lobby","' + TEXT + '"]')
            assert await recv(shouter) == "431[]"
        await asyncio.wait_for(reader, 30)
        assert received == COUNT
        reasons = sio.reasons  # type: ignore[attr-defined]
        assert reasons, "nobody was dropped"
        assert set(reasons) == {"output budget"}
        logged = [r.getMessage() for r in caplog.records if "output budget" in r.getMessage()]
        assert len(logged) == len(reasons)
        assert all("bytes unsent of" in line for line in logged)
        for ws in (*stopped, fast, shouter):
            await ws.close()
