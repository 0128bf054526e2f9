"""`/metrics` for Prometheus: the counts the engine, the service and the transport keep.

Nothing here runs on the hot path. The code that sees each event adds to a plain int (or a
`Tally`) of its own, and `ChatCollector` reads them when Prometheus scrapes: no lock and no
call into prometheus-client per message or per delivery. Every sample carries the node's
id as the `node` label, so the series of a cluster's nodes stay apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from rtchat.engine import SocketServer
from rtchat.engine.eio_server import transport_name
from rtchat.engine.plain_ws import WsEndpoint
from rtchat.service import Chat
from rtchat.tally import Tally

TRANSPORTS = ("websocket", "polling", "ws")


@dataclass(frozen=True, slots=True)
class Sources:
    """Where the counts are: each part counts what it alone sees."""

    node: str
    sio: SocketServer
    plain: WsEndpoint  # `/ws`
    chat: Chat
    recipients: Tally  # connections each room broadcast reached, every transport
    errors: dict[str, int]  # error answers to events and /ws requests, by code
    api_errors: dict[str, int]  # the HTTP API's error answers, by code
    forwarded: Callable[[], int]
    draining: Callable[[], bool]


class ChatCollector(Collector):
    def __init__(self, sources: Sources) -> None:
        self._s = sources

    def collect(self) -> Iterator[Metric]:
        s = self._s
        node = [s.node]

        by_transport = dict.fromkeys(TRANSPORTS, 0)
        for session in s.sio.sessions.values():
            by_transport[transport_name(session)] += 1
        by_transport["ws"] = len(s.plain.conns)
        connections = GaugeMetricFamily(
            "rtchat_connections",
            "Connections open on this node, by transport (Engine.IO's two, and `/ws`).",
            labels=["node", "transport"],
        )
        for transport, count in by_transport.items():
            connections.add_metric([s.node, transport], count)
        yield connections

        yield _counter(
            "rtchat_messages_received",
            "Messages this node's clients sent that were stored (a resend is not counted).",
            node,
            s.chat.messages.posted,
        )
        yield _counter(
            "rtchat_deliveries",
            "Events queued to this node's connections, one per recipient.",
            node,
            s.sio.delivered + s.plain.delivered,
        )
        yield _histogram(
            "rtchat_store_append_seconds",
            "Time each message took to be stored.",
            node,
            s.chat.messages.append_seconds,
        )
        yield _histogram(
            "rtchat_broadcast_recipients",
            "Connections of this node (Socket.IO and `/ws`) that each room broadcast reached.",
            node,
            s.recipients,
        )
        yield _counter(
            "rtchat_rate_limited",
            "Requests refused with `rate_limited`.",
            node,
            s.errors.get("rate_limited", 0),
        )
        yield _by_label(
            "rtchat_errors",
            "Error answers to clients' events and /ws requests, by error code.",
            s.node,
            "code",
            s.errors,
        )
        yield _by_label(
            "rtchat_api_errors",
            "Error answers of the HTTP API (/api/v1/), by error code.",
            s.node,
            "code",
            s.api_errors,
        )
        drops = dict(s.sio.dropped)
        for reason, count in s.plain.dropped.items():
            drops[reason] = drops.get(reason, 0) + count
        yield _by_label(
            "rtchat_slow_consumer_disconnects",
            "Connections dropped for not reading what was sent to them, by reason.",
            s.node,
            "reason",
            drops,
        )
        yield _counter(
            "rtchat_forwarded_requests",
            "Requests passed on to the node that owns their long-polling session.",
            node,
            s.forwarded(),
        )
        yield _counter(
            "rtchat_gap_fills",
            "Messages read from the database because their publication did not arrive.",
            node,
            s.chat.relay.filled,
        )
        draining = GaugeMetricFamily(
            "rtchat_draining", "1 while the node is draining to stop.", labels=["node"]
        )
        draining.add_metric(node, 1 if s.draining() else 0)
        yield draining


def _counter(name: str, documentation: str, labels: list[str], value: int) -> Metric:
    family = CounterMetricFamily(name, documentation, labels=["node"])
    family.add_metric(labels, value)
    return family


def _by_label(
    name: str, documentation: str, node: str, label: str, counts: dict[str, int]
) -> Metric:
    family = CounterMetricFamily(name, documentation, labels=["node", label])
    for value, count in sorted(counts.items()):
        family.add_metric([node, value], count)
    return family


def _histogram(name: str, documentation: str, labels: list[str], tally: Tally) -> Metric:
    family = HistogramMetricFamily(name, documentation, labels=["node"])
    buckets: list[tuple[str, float]] = []
    total = 0
    for bound, count in zip((*tally.bounds, float("inf")), tally.counts, strict=True):
        total += count
        buckets.append(("+Inf" if bound == float("inf") else repr(bound), total))
    family.add_metric(labels, buckets, tally.sum)
    return family


class Metrics:
    """A registry of this application's own (not prometheus-client's global one, so that
    several apps in one process, as in the tests, each answer for themselves)."""

    def __init__(self, sources: Sources) -> None:
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(ChatCollector(sources))
        ProcessCollector(registry=self._registry)  # CPU, memory and open files

    def render(self) -> bytes:
        return generate_latest(self._registry)
