"""`/metrics`: after a scripted session, Prometheus's own parser reads counts that match
what the clients sent and received, every sample named by its node."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from rtchat.settings import Settings
from tests.support import ChatClient, error_code, ok, running_server
from tests.ws_client import WsClient

NODE = "metrics-node"
MESSAGES = 12
MEMBERS = 4  # joined over WebSocket, the sender among them
# ... and one more connection over long-polling that never joins: it hears `general` too,
# as every connection does in the seed; and one over the plain WebSocket endpoint `/ws`.

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def _scrape(url: str) -> Samples:
    async with aiohttp.ClientSession() as http, http.get(url + "/metrics") as answer:
        assert answer.status == 200
        assert answer.headers["content-type"].startswith("text/plain")
        text = await answer.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("rtchat_"):
                assert sample.labels["node"] == NODE, sample
            labels = frozenset((k, v) for k, v in sample.labels.items() if k != "node")
            samples[(sample.name, labels)] = sample.value
    return samples


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _settings(tmp_path: Path, **changes: object) -> Settings:
    # A bucket of exactly MESSAGES messages that refills too slowly to matter here.
    base = Settings(
        database_url=f"sqlite:///{tmp_path}/rtchat.db",
        node_id=NODE,
        rate_limit=0.001,
        rate_burst=float(MESSAGES),
    )
    return dataclasses.replace(base, **changes)


async def test_counts_match_a_scripted_session(tmp_path: Path) -> None:
    async with running_server(_settings(tmp_path)) as (url, _):
        members = [
            await ChatClient(url, transports=["websocket"]).connect() for _ in range(MEMBERS)
        ]
        poller = await ChatClient(url, transports=["polling"]).connect()
        plain = await WsClient.open(url)
        try:
            for i, client in enumerate(members):
                await client.join(f"member{i}")
            await plain.join("plain")
            sender = members[0]
            before = await _scrape(url)
            assert _value(before, "rtchat_connections", transport="websocket") == MEMBERS
            assert _value(before, "rtchat_connections", transport="polling") == 1
            assert _value(before, "rtchat_connections", transport="ws") == 1

            for i in range(MESSAGES):
                ok(await sender.call("send-message", {"room": "general", "text": f"m{i}"}))
            for listener in [*members, poller, plain]:
                await listener.wait_for(
                    "receive-message", lambda d: d["message"] == f"m{MESSAGES - 1}"
                )
            after = await _scrape(url)

            delivered = sum(
                1
                for listener in [*members, poller, plain]
                for data in listener.events("receive-message")
                if data["message"].startswith("m")
            )
            assert delivered == MESSAGES * (MEMBERS + 2)  # the sender hears its own

            def delta(name: str, **labels: str) -> float:
                return _value(after, name, **labels) - _value(before, name, **labels)

            assert delta("rtchat_messages_received_total") == MESSAGES
            assert delta("rtchat_deliveries_total") == delivered
            assert delta("rtchat_store_append_seconds_count") == MESSAGES
            assert delta("rtchat_store_append_seconds_sum") > 0
            # Each message was one broadcast to the room's members on this node, of both
            # transports: the Socket.IO ones (the poller among them) and the /ws one.
            assert delta("rtchat_broadcast_recipients_count") == MESSAGES
            assert delta("rtchat_broadcast_recipients_sum") == MESSAGES * (MEMBERS + 2)
            assert delta("rtchat_broadcast_recipients_bucket", le="10.0") == MESSAGES
            assert delta("rtchat_broadcast_recipients_bucket", le="5.0") == 0

            # The bucket is empty now: one refusal; and an event nobody handles.
            refused = await sender.call("send-message", {"room": "general", "text": "one more"})
            assert error_code(refused) == "rate_limited"
            assert error_code(await sender.call("no-such-event", {})) == "unknown_event"
            last = await _scrape(url)
            assert _value(last, "rtchat_rate_limited_total") == 1
            assert _value(last, "rtchat_errors_total", code="rate_limited") == 1
            assert _value(last, "rtchat_errors_total", code="unknown_event") == 1
            assert _value(last, "rtchat_messages_received_total") == MESSAGES
            assert _value(last, "rtchat_slow_consumer_disconnects_total") == 0
            assert _value(last, "rtchat_draining") == 0
        finally:
            await plain.close()
            for client in [*members, poller]:
                await client.close()


async def test_metrics_can_be_turned_off(tmp_path: Path) -> None:
    async with (
        running_server(_settings(tmp_path, metrics=0)) as (url, _),
        aiohttp.ClientSession() as http,
    ):
        async with http.get(url + "/metrics") as answer:
            assert answer.status == 404
        async with http.get(url + "/healthz") as answer:
            assert answer.status == 200


async def test_api_errors_are_counted_by_code(tmp_path: Path) -> None:
    key = "k" * 32
    api = "/api/v1"
    async with (
        running_server(_settings(tmp_path, api_keys=f"bot:{key}")) as (url, _),
        aiohttp.ClientSession() as http,
    ):
        bearer = {"Authorization": f"Bearer {key}"}
        refusals = [
            ("POST", "/rooms/general/messages", {}, 401),  # no key
            ("POST", "/rooms/general/messages", {"Authorization": "Bearer wrong"}, 401),
            ("POST", "/rooms/nowhere-yet/messages", bearer, 404),  # room_not_found
            ("GET", "/no/such/route", bearer, 404),  # not_found
        ]
        for method, path, headers, status in refusals:
            async with http.request(
                method, url + api + path, headers=headers, json={"text": "hi"}
            ) as answer:
                assert answer.status == status, (path, await answer.text())
        async with http.post(
            url + api + "/rooms/general/messages", headers=bearer, json={"text": "fine"}
        ) as answer:
            assert answer.status == 201
        samples = await _scrape(url)
        assert _value(samples, "rtchat_api_errors_total", code="unauthorized") == 2
        assert _value(samples, "rtchat_api_errors_total", code="room_not_found") == 1
        assert _value(samples, "rtchat_api_errors_total", code="not_found") == 1
        # The events' own series counts clients' events only.
        assert _value(samples, "rtchat_errors_total", code="unauthorized") == 0
