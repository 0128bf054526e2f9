"""Names that a plain JavaScript object answers from its prototype work like any other.

Room names are lowercased, so `__proto__` and `constructor` are the two that can be
rooms; `hasOwnProperty` and `toString` are the people, whose names key the typing and
presence tables. Chatting in those rooms must count unread messages (not `NaN`), show
who types, catch up after a time offline and keep what was read across a reload.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.e2e.pages import (
    NewPage,
    create_room,
    join,
    join_listed_room,
    message,
    next_sent,
    open_room,
    record_sent_events,
    room_link,
    send,
    shown_texts,
)

pytestmark = pytest.mark.e2e

ROOMS = ("__proto__", "constructor")
RECONNECT_TIMEOUT_MS = 20_000


async def expect_unread(page: Page, counts: dict[str, int]) -> None:
    for room, count in counts.items():
        badge = room_link(page, room).locator(".unread")
        if count:
            await expect(badge).to_have_text(str(count))
        else:
            await expect(badge).to_have_count(0)
    total = sum(counts.values())
    await expect(page.locator("#unread-total")).to_have_text(str(total))
    assert await page.title() == (f"({total}) rtchat" if total else "rtchat")


async def test_rooms_named_like_object_properties(
    server_url: str, new_page: NewPage, artifacts_dir: Path
) -> None:
    writer = await new_page(server_url)
    reader = await new_page(server_url)
    reader_sent = record_sent_events(reader)
    await join(writer, "toString")
    await join(reader, "hasOwnProperty")
    for room in ROOMS:
        await create_room(writer, room)
        await join_listed_room(reader, room)

    # Unread counts, while the reader looks at general.
    await open_room(reader, "general")
    await open_room(writer, "__proto__")
    await send(writer, "proto one")
    await open_room(writer, "constructor")
    await send(writer, "constructor one")
    await send(writer, "constructor two")
    await expect(message(writer, "constructor two")).to_have_count(1)
    await expect_unread(reader, {"__proto__": 1, "constructor": 2})
    await reader.screenshot(path=artifacts_dir / "e2e-room-names.png", animations="disabled")

    # Opening a room reads it; typing there shows under the typist's name.
    await open_room(reader, "__proto__")
    await expect(message(reader, "proto one")).to_have_count(1)
    await expect_unread(reader, {"__proto__": 0, "constructor": 2})
    await open_room(writer, "__proto__")
    await writer.click("#message-input")
    await writer.keyboard.type("proto two", delay=20)
    await expect(reader.locator("#typing-indicator")).to_have_text("toString is typing…")
    await writer.keyboard.press("Enter")
    await expect(reader.locator("#typing-indicator")).to_have_text("")
    await expect(message(reader, "proto two", author="toString")).to_have_count(1)

    # Offline in constructor: what was said in __proto__ meanwhile comes by sync.
    await open_room(reader, "constructor")
    await expect_unread(reader, {"__proto__": 0, "constructor": 0})
    await reader.context.set_offline(True)
    await expect(reader.locator("#connection-status")).not_to_have_text("connected")
    for text in ("proto three", "proto four"):
        await send(writer, text)
    await expect(message(writer, "proto four")).to_have_count(1)
    offline_at = len(reader_sent)
    await reader.context.set_offline(False)
    await expect(reader.locator("#connection-status")).to_have_text(
        "connected", timeout=RECONNECT_TIMEOUT_MS
    )
    # Back online, the reader asks for what came after its last seq in every room.
    (request,) = await next_sent(reader_sent, "sync", offline_at)
    assert sorted(request["rooms"]) == ["__proto__", "constructor", "general"]
    await expect_unread(reader, {"__proto__": 2, "constructor": 0})

    # A reload keeps what was read where, and each room's history.
    await reader.reload()
    await expect(reader.locator("#room-title")).to_have_text("# constructor")
    await expect_unread(reader, {"__proto__": 2, "constructor": 0})
    assert await shown_texts(reader) == ["constructor one", "constructor two"]
    await open_room(reader, "__proto__")
    await expect(message(reader, "proto four")).to_have_count(1)
    assert await shown_texts(reader) == ["proto one", "proto two", "proto three", "proto four"]
    await expect_unread(reader, {"__proto__": 0, "constructor": 0})
    await reader.reload()
    await expect(reader.locator("#room-title")).to_have_text("# __proto__")
    await expect(message(reader, "proto four")).to_have_count(1)
    await expect_unread(reader, {"__proto__": 0, "constructor": 0})
