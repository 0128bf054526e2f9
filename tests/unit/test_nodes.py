"""Two nodes in one process, sharing a store and the memory fan-out and presence hubs:
the relay, membership commands, presence and typing across nodes, without a network."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.events import (
    MemberJoined,
    MessageChanged,
    MessagePosted,
    RoomAdded,
    UserConnected,
    UserDisconnected,
    UserTyping,
)
from rtchat.domain.models import ChangeDraft, ChangeKind, ConnectionId, MessageDraft, User
from rtchat.domain.moderation import Restriction
from rtchat.fanout import envelope
from rtchat.fanout.memory import MemoryFanout, MemoryFanoutHub
from rtchat.names.memory import MemoryNameHolds
from rtchat.presence.memory import MemoryPresence, MemoryPresenceHub
from rtchat.ratelimit.memory import MemoryRateLimiter
from rtchat.service import Chat, Limiters, Limits, build_chat
from rtchat.service.relay import GAP_WAIT
from rtchat.storage.memory import MemoryStorage
from tests.fakes import ManualClock, RecordingDelivery

A1, A2, B1, B2 = (ConnectionId(c) for c in ("a1", "a2", "b1", "b2"))


@dataclass
class Node:
    chat: Chat
    out: RecordingDelivery
    presence: MemoryPresence
    fanout: MemoryFanout


@dataclass
class Cluster:
    one: Node
    two: Node
    clock: ManualClock
    storage: MemoryStorage


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    storage, clock = MemoryStorage(), ManualClock()
    fanout_hub, presence_hub = MemoryFanoutHub(), MemoryPresenceHub(ttl=30, clock=clock)
    nodes = []
    limits = Limits(send_rate=0, name_grace=30)
    for name in ("one", "two"):
        out = RecordingDelivery()
        presence = MemoryPresence(presence_hub, name)
        fanout = MemoryFanout(fanout_hub)
        chat = build_chat(
            node=name,
            storage=storage,
            presence=presence,
            holds=MemoryNameHolds(clock, start_grace=0),
            limiters=Limiters.build(limits, MemoryRateLimiter),
            fanout=fanout,
            delivery=out,
            clock=clock,
            limits=limits,
        )
        await chat.start(storage)
        nodes.append(Node(chat, out, presence, fanout))
    yield Cluster(nodes[0], nodes[1], clock, storage)
    for node in nodes:
        await node.chat.close()


async def settle() -> None:
    """Let the hub's deliveries and the commands they start run."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_message_reaches_the_other_node_once_and_presence_counts_once(
    cluster: Cluster,
) -> None:
    one, two = cluster.one, cluster.two
    await one.chat.identity.connect(A1)
    await two.chat.identity.connect(B1)
    alice = (await one.chat.identity.join(A1, "alice")).user
    bob_view = await two.chat.identity.join(B1, "bob")
    await settle()
    bob = bob_view.user
    connected = [e.user for e in two.out.received(B1, UserConnected)]  # type: ignore[attr-defined]
    assert sorted(connected, key=str) == sorted([alice, bob], key=str)
    assert bob_view.online_count == 2

    sent = [await one.chat.messages.post(A1, "general", f"m{i}") for i in range(5)]
    await settle()
    assert two.out.received(B1, MessagePosted) == [MessagePosted(m) for m in sent]
    assert one.out.received(A1, MessagePosted) == [MessagePosted(m) for m in sent]

    # alice's second tab on node two: online already, so nobody hears of it.
    token = (await one.chat.identity.session(A1)).token
    await two.chat.identity.connect(A2, token)
    await settle()
    assert len(two.out.received(B1, UserConnected)) == 2
    await one.chat.identity.disconnect(A1)
    await settle()
    assert two.out.received(B1, UserDisconnected) == []
    await two.chat.identity.disconnect(A2)
    await settle()
    assert [e.user for e in two.out.received(B1, UserDisconnected)] == [alice]  # type: ignore[attr-defined]


async def test_joining_a_room_on_one_node_enters_the_users_tab_on_the_other(
    cluster: Cluster,
) -> None:
    one, two = cluster.one, cluster.two
    await one.chat.identity.connect(A1)
    token = (await one.chat.identity.join(A1, "alice")).token
    await two.chat.identity.connect(A2, token)
    await two.chat.identity.connect(B1)
    await two.chat.identity.join(B1, "bob")
    await two.chat.rooms.create_room(B1, "ops", "")
    await one.chat.rooms.join_room(A1, "ops")
    await settle()
    assert len(two.out.received(A2, RoomAdded)) == 1  # the other tab learns of the room
    assert len(two.out.received(B1, MemberJoined)) == 1
    message = await two.chat.messages.post(B1, "ops", "welcome")
    await settle()
    assert two.out.received(A2, MessagePosted) == [MessagePosted(message)]
    assert one.out.received(A1, MessagePosted)[-1] == MessagePosted(message)

    await one.chat.rooms.leave_room(A1, "ops")
    await settle()
    again = await two.chat.messages.post(B1, "ops", "anyone?")
    await settle()
    assert MessagePosted(again) not in two.out.received(A2, MessagePosted)


async def alice_on_one_bob_on_two(cluster: Cluster) -> User:
    """alice joins on node one (A1), bob on node two (B1); alice, who posts."""
    await cluster.one.chat.identity.connect(A1)
    alice = (await cluster.one.chat.identity.join(A1, "alice")).user
    assert alice is not None
    await cluster.two.chat.identity.connect(B1)
    await cluster.two.chat.identity.join(B1, "bob")
    return alice


async def test_a_gap_is_filled_from_the_store_in_order(cluster: Cluster) -> None:
    one, two = cluster.one, cluster.two
    alice = await alice_on_one_bob_on_two(cluster)
    first = await one.chat.messages.post(A1, "general", "first")
    # Stored but never published, as when a node dies between its commit and its publish.
    lost, _ = await cluster.storage.messages.append(
        MessageDraft("lost", "general", alice, "lost", cluster.clock.now())
    )
    third = await one.chat.messages.post(A1, "general", "third")
    await settle()
    assert two.out.received(B1, MessagePosted) == [MessagePosted(first)]
    await asyncio.sleep(GAP_WAIT * 2)
    await settle()
    got = two.out.received(B1, MessagePosted)
    assert got == [MessagePosted(first), MessagePosted(lost), MessagePosted(third)]
    assert two.chat.relay.filled == 1  # only the lost one was read from the store
    # A late or repeated publication of what was delivered is dropped.
    event = two.chat.relay.encode(MessagePosted(third))
    two.chat.relay.received("r:general", envelope.room_frame("one", third.seq, "", event))
    await settle()
    assert len(two.out.received(B1, MessagePosted)) == 3


async def test_typing_crosses_nodes_but_not_to_the_typists_own_tabs(cluster: Cluster) -> None:
    one, two = cluster.one, cluster.two
    await one.chat.identity.connect(A1)
    token = (await one.chat.identity.join(A1, "alice")).token
    await two.chat.identity.connect(A2, token)
    await two.chat.identity.connect(B1)
    await two.chat.identity.join(B1, "bob")
    await one.chat.typing.report(A1, "general", True)
    await settle()
    assert [e.is_typing for e in two.out.received(B1, UserTyping)] == [True]  # type: ignore[attr-defined]
    assert two.out.received(A2, UserTyping) == []
    # Node one goes quiet (its typist's report is never refreshed nor stopped): node two
    # expires what it showed by itself.
    cluster.clock.advance(5.1)
    two.chat.typing.expire()
    assert [e.is_typing for e in two.out.received(B1, UserTyping)] == [True, False]  # type: ignore[attr-defined]


async def test_the_users_of_a_node_that_stopped_refreshing_go_offline(cluster: Cluster) -> None:
    one, two = cluster.one, cluster.two
    await one.chat.identity.connect(A1)
    alice = (await one.chat.identity.join(A1, "alice")).user
    await two.chat.identity.connect(B1)
    await two.chat.identity.join(B1, "bob")
    await one.presence.abandon()  # node one "crashes": no refresh, no departure
    cluster.clock.advance(20)
    await two.presence.refresh()
    await two.chat.sweep()
    await settle()
    assert two.out.received(B1, UserDisconnected) == []  # within the TTL: still online
    cluster.clock.advance(11)
    await two.presence.refresh()
    await two.chat.sweep()
    await one.chat.sweep()  # already reported: nobody announces it twice
    await settle()
    assert [e.user for e in two.out.received(B1, UserDisconnected)] == [alice]  # type: ignore[attr-defined]
    online, count = await two.presence.list_online(10)
    assert [u.username for u in online] == ["bob"]
    assert count == 1


async def test_a_lost_change_is_filled_from_the_store_as_the_live_one(cluster: Cluster) -> None:
    one, two = cluster.one, cluster.two
    alice = await alice_on_one_bob_on_two(cluster)
    posted = await one.chat.messages.post(A1, "general", "helo")
    # An edit stored but never published (its node died in between), then a live reaction,
    # made on node two: every node holds it back until the edit is read from the store.
    _, lost = await cluster.storage.messages.change(
        ChangeDraft("general", posted.id, alice, ChangeKind.EDIT, cluster.clock.now(), "hello")
    )
    await two.chat.changes.react(B1, "general", posted.id, "👍", True)
    await settle()
    assert two.out.received(B1, MessageChanged) == one.out.received(A1, MessageChanged) == []
    await asyncio.sleep(GAP_WAIT * 2)
    await settle()
    live = await cluster.storage.messages.after("general", posted.seq, 10)
    assert lost is not None
    assert live[0] == lost
    changes = [MessageChanged(e) for e in live]  # type: ignore[arg-type]
    assert two.out.received(B1, MessageChanged) == changes
    assert one.out.received(A1, MessageChanged) == changes
    assert two.chat.relay.filled == one.chat.relay.filled == 1


async def test_a_mute_made_on_one_node_holds_on_the_other_until_it_ends(cluster: Cluster) -> None:
    one, two = cluster.one, cluster.two
    await one.chat.identity.connect(A1)
    await one.chat.identity.join(A1, "alice")
    await two.chat.identity.connect(B1)
    await two.chat.identity.join(B1, "bob")
    await one.chat.rooms.create_room(A1, "ops", "")
    await two.chat.rooms.join_room(B1, "ops")
    await one.chat.moderation.mute(A1, "ops", "bob", 60)
    await settle()
    with pytest.raises(ChatError) as caught:
        await two.chat.messages.post(B1, "ops", "hi")
    assert caught.value.code is ErrorCode.MUTED
    with pytest.raises(ChatError):
        await two.chat.typing.report(B1, "ops", True)
    cluster.clock.advance(60)  # the end itself is the first moment it no longer holds
    await two.chat.messages.post(B1, "ops", "hi")


async def test_a_mute_whose_command_was_lost_holds_after_the_link_is_back(
    cluster: Cluster,
) -> None:
    two = cluster.two
    await two.chat.identity.connect(B1)
    bob = (await two.chat.identity.join(B1, "bob")).user
    assert bob is not None
    # Written to the store, but its command never reached node two (the link was down).
    await cluster.storage.moderation.restrict("general", bob.id, Restriction.MUTE, None)
    await two.chat.messages.post(B1, "general", "not muted here yet")
    two.chat.relay.resumed()
    await settle()
    with pytest.raises(ChatError) as caught:
        await two.chat.messages.post(B1, "general", "now muted")
    assert (caught.value.code, caught.value.until) == (ErrorCode.MUTED, None)
