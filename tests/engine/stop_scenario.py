"""Run by test_shutdown.py in a process of its own: stop the engine in the very loop turn
in which its last handler finished. Exits 0 once every stop has returned; the test kills
the process if it does not (the bug this guards against spun at 100% CPU, forever)."""

from __future__ import annotations

import asyncio

from tests.engine.support import echo_server, running_engine
from tests.engine.wire import open_ws, recv

ROUNDS = 5


async def stop_right_after_the_last_handler() -> None:
    sio = echo_server()
    gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def disconnect(sid: str, reason: str) -> None:
        gone.set_result(None)

    sio.on_disconnect(disconnect)
    async with running_engine(sio) as base:
        ws, _ = await open_ws(base)
        await ws.send("40")
        await recv(ws)
        ws.transport.abort()  # the server sees the connection go at once
        await gone
        # This task resumes before the handler task's done callbacks run: on Python 3.12+
        # `gather` over a task in that state returns without yielding.
        await sio.shutdown()


async def main() -> None:
    for _ in range(ROUNDS):
        await stop_right_after_the_last_handler()
    print("stopped", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
