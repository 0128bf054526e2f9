"""Admission: how many heavy requests run at once, in all and for one address."""

from __future__ import annotations

import asyncio

import pytest

from rtchat.service.admission import Admission


async def test_one_address_takes_only_its_share_and_others_go_past_its_queue() -> None:
    admission = Admission(total=4, per_address=2)
    running: dict[str, int] = {}
    peak: dict[str, int] = {}
    release = asyncio.Event()
    order: list[str] = []

    async def request(address: str | None, name: str) -> None:
        key = address or "-"
        async with admission.slot(address):
            order.append(name)
            running[key] = running.get(key, 0) + 1
            peak[key] = max(peak.get(key, 0), running[key])
            await release.wait()
            running[key] -= 1

    flood = [asyncio.create_task(request("192.0.2.1", f"flood{i}")) for i in range(50)]
    for _ in range(5):
        await asyncio.sleep(0)
    honest = asyncio.create_task(request("198.51.100.7", "honest"))
    local = asyncio.create_task(request(None, "local"))
    for _ in range(5):
        await asyncio.sleep(0)
    # Two of the flood run; the honest request and one without an address got in at once,
    # past the 48 flood requests still waiting.
    assert order == ["flood0", "flood1", "honest", "local"]
    release.set()
    await asyncio.gather(*flood, honest, local)
    assert peak == {"192.0.2.1": 2, "198.51.100.7": 1, "-": 1}
    assert len(order) == 52
    assert admission.addresses_waiting() == 0  # nothing kept once they are done


async def test_the_node_wide_bound_holds_across_addresses() -> None:
    admission = Admission(total=3, per_address=2)
    running = peak = 0
    gate = asyncio.Event()

    async def request(address: str) -> None:
        nonlocal running, peak
        async with admission.slot(address):
            running += 1
            peak = max(peak, running)
            await gate.wait()
            running -= 1

    tasks = [asyncio.create_task(request(f"10.0.0.{i % 5}")) for i in range(30)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert running == 3
    gate.set()
    await asyncio.gather(*tasks)
    assert peak == 3


async def test_a_failing_or_cancelled_request_gives_its_slot_back() -> None:
    admission = Admission(total=1, per_address=1)

    async def fails() -> None:
        async with admission.slot("a"):
            raise ValueError("boom")

    for _ in range(3):
        with pytest.raises(ValueError, match="boom"):
            await fails()
    blocker = asyncio.Event()

    async def waits() -> None:
        async with admission.slot("a"):
            await blocker.wait()

    first = asyncio.create_task(waits())
    second = asyncio.create_task(waits())
    await asyncio.sleep(0)
    second.cancel()  # cancelled while waiting for the slot
    blocker.set()
    await first
    await asyncio.gather(second, return_exceptions=True)
    async with asyncio.timeout(1), admission.slot("a"):
        pass
    assert admission.addresses_waiting() == 0
