"""The servers under test: how each is started, on how many nodes, with what beside it.

A deployment is one server set of one scenario: its nodes (processes started the same way
with a node id each), and what they share (a private Redis, a fresh PostgreSQL database, an
HAProxy in front). Groups put side by side what is compared: `single` (one node, S1-S4),
`variants` (one node, S4 + S2 + S3: rtchat's plain WebSocket `/ws`, and rtchat with
`/metrics` off, each beside rtchat-sqlite, which is both over Socket.IO with metrics on),
`cluster` (two nodes, senders on node a), `polling` (long-polling clients through HAProxy)
and `workers` (`rtchat serve --workers N`).

A deployment with `pending` set waits for rtchat code that has not landed; it runs only
when named with `--servers` (the report says which were left out and why).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
NODE_IDS = "abcdefgh"

# The rate limits are off for every rtchat run (recorded in the report), and so is the cap
# on connections per address: every load client comes from 127.0.0.1, which the
# per-address limits would count as one.
RTCHAT_ENV = {
    "RTCHAT_RATE_LIMIT": "0",
    "RTCHAT_MAX_CONNECTIONS_PER_IP": "0",
    "RTCHAT_JOINS_PER_MINUTE": "0",
    "RTCHAT_ROOMS_PER_HOUR": "0",
    "RTCHAT_ROOMS_PER_HOUR_PER_ADDRESS": "0",
}


@dataclass(frozen=True)
class NodeContext:
    """What one node is started with."""

    index: int
    node_id: str
    port: int
    tmp: Path  # the node's own scratch dir, also its working dir
    redis_url: str | None
    database_url: str | None
    rtchat: Path  # the rtchat executable under test


@dataclass(frozen=True)
class Deployment:
    name: str
    group: str
    description: str
    argv: Callable[[NodeContext], list[str]]
    env: Callable[[NodeContext], dict[str, str]] = lambda _ctx: {}
    nodes: int = 1
    redis: bool = False
    postgres: bool = False
    balancer: str | None = None  # None: clients go to the nodes; "sticky" or "roundrobin"
    transport: str = "websocket"  # or "polling", or "ws" (rtchat's /ws)
    cores: str = "server"  # "server": every node on the server core; "all": both cores
    modes: tuple[str, ...] = ("session",)
    pending: str | None = None
    stdout_to_log: bool = True


def _node_seed(_ctx: NodeContext) -> list[str]:
    return ["node", str(BENCH / "servers" / "seed_server.js")]


def _node_seed_env(ctx: NodeContext) -> dict[str, str]:
    env = {"PORT": str(ctx.port), "HOST": "127.0.0.1"}
    if ctx.redis_url:
        env["REDIS_URL"] = ctx.redis_url
    return env


def _python_socketio(ctx: NodeContext) -> list[str]:
    argv = [
        str(VENV_BIN / "python"),
        str(BENCH / "servers" / "reference_socketio.py"),
        "--host",
        "127.0.0.1",
        "--port",
        str(ctx.port),
    ]
    return [*argv, "--redis-url", ctx.redis_url] if ctx.redis_url else argv


def _rtchat(ctx: NodeContext) -> list[str]:
    return [str(ctx.rtchat), "serve", "--host", "127.0.0.1", "--port", str(ctx.port)]


def _rtchat_workers(n: int) -> Callable[[NodeContext], list[str]]:
    return lambda ctx: [*_rtchat(ctx), "--workers", str(n)]


def _rtchat_env(database: str, **more: str) -> Callable[[NodeContext], dict[str, str]]:
    # relative to the server's working dir, which is the node's fresh scratch dir
    return lambda _ctx: {**RTCHAT_ENV, "RTCHAT_DATABASE_URL": database, **more}


def _rtchat_shared_env(ctx: NodeContext) -> dict[str, str]:
    """PostgreSQL, plus Redis and a node id when the deployment has them."""
    assert ctx.database_url is not None
    env = {**RTCHAT_ENV, "RTCHAT_DATABASE_URL": ctx.database_url}
    if ctx.redis_url:
        env |= {"RTCHAT_REDIS_URL": ctx.redis_url, "RTCHAT_NODE_ID": ctx.node_id}
    return env


_SEED = "the seed's server.js on express + socket.io (benchmarks/servers/seed_server.js)"
_PSIO = "python-socketio AsyncServer under uvicorn (benchmarks/servers/reference_socketio.py)"
_ADAPTER = "two nodes with @socket.io/redis-adapter on the `redis` client, a private Redis"
_MANAGER = "two nodes with AsyncRedisManager, a private Redis"
_RT_CLUSTER = "rtchat serve on two nodes: a fresh PostgreSQL database, a private Redis"

DEPLOYMENTS = [
    # -- one node: S1 (idle) and S4 + S2 + S3 (session)
    Deployment(
        "node-seed",
        "single",
        _SEED,
        _node_seed,
        _node_seed_env,
        modes=("idle", "session"),
        stdout_to_log=False,  # the seed console.logs every connection
    ),
    Deployment("python-socketio", "single", _PSIO, _python_socketio, modes=("idle", "session")),
    Deployment(
        "rtchat-sqlite",
        "single",
        "rtchat serve, default storage (SQLite file in a fresh temp dir)",
        _rtchat,
        _rtchat_env("sqlite:///bench.db"),
        modes=("idle", "session"),
    ),
    Deployment(
        "rtchat-memory",
        "single",
        "rtchat serve, storage off (RTCHAT_DATABASE_URL=memory://)",
        _rtchat,
        _rtchat_env("memory://"),
        modes=("idle", "session"),
    ),
    Deployment(
        "rtchat-postgres",
        "single",
        "rtchat serve, one node, PostgreSQL storage (a fresh database, no Redis)",
        _rtchat,
        _rtchat_shared_env,
        postgres=True,
    ),
    # -- one node, what differs from rtchat-sqlite is the only difference
    Deployment(
        "rtchat-ws",
        "variants",
        "rtchat serve, SQLite, every client on the plain WebSocket `/ws` (rtchat.v1), "
        "not Socket.IO",
        _rtchat,
        _rtchat_env("sqlite:///bench.db"),
        transport="ws",
    ),
    Deployment(
        "rtchat-nometrics",
        "variants",
        "rtchat serve, SQLite, `/metrics` off (RTCHAT_METRICS=0)",
        _rtchat,
        _rtchat_env("sqlite:///bench.db", RTCHAT_METRICS="0"),
    ),
    # -- two nodes: the sender(s) on node a, receivers on both
    Deployment(
        "node-cluster",
        "cluster",
        f"{_SEED}; {_ADAPTER}",
        _node_seed,
        _node_seed_env,
        nodes=2,
        redis=True,
        modes=("cluster",),
        stdout_to_log=False,
    ),
    Deployment(
        "python-socketio-cluster",
        "cluster",
        f"{_PSIO}; {_MANAGER}",
        _python_socketio,
        nodes=2,
        redis=True,
        modes=("cluster",),
    ),
    Deployment(
        "rtchat-cluster",
        "cluster",
        _RT_CLUSTER,
        _rtchat,
        _rtchat_shared_env,
        nodes=2,
        redis=True,
        postgres=True,
        modes=("cluster",),
    ),
    # -- long-polling clients through HAProxy
    Deployment(
        "node-polling-sticky",
        "polling",
        f"{_SEED}; {_ADAPTER}; behind HAProxy with a sticky cookie",
        _node_seed,
        _node_seed_env,
        nodes=2,
        redis=True,
        balancer="sticky",
        transport="polling",
        modes=("polling",),
        stdout_to_log=False,
    ),
    Deployment(
        "rtchat-polling-1node",
        "polling",
        "rtchat serve, one node, SQLite, behind HAProxy (one backend: sticky and "
        "round-robin are the same)",
        _rtchat,
        _rtchat_env("sqlite:///bench.db"),
        balancer="roundrobin",
        transport="polling",
        modes=("polling",),
    ),
    Deployment(
        "rtchat-polling-sticky",
        "polling",
        f"{_RT_CLUSTER}; behind HAProxy with a sticky cookie",
        _rtchat,
        _rtchat_shared_env,
        nodes=2,
        redis=True,
        postgres=True,
        balancer="sticky",
        transport="polling",
        modes=("polling",),
    ),
    Deployment(
        "rtchat-polling-roundrobin",
        "polling",
        f"{_RT_CLUSTER}; behind HAProxy, plain round-robin, no stickiness",
        _rtchat,
        _rtchat_shared_env,
        nodes=2,
        redis=True,
        postgres=True,
        balancer="roundrobin",
        transport="polling",
        modes=("polling",),
    ),
    # The control: without stickiness the seed's clients fail ("Session ID unknown").
    Deployment(
        "node-polling-roundrobin",
        "polling",
        f"{_SEED}; {_ADAPTER}; behind HAProxy, plain round-robin (expected to fail)",
        _node_seed,
        _node_seed_env,
        nodes=2,
        redis=True,
        balancer="roundrobin",
        transport="polling",
        modes=("polling",),
        pending="nothing: a control that shows round-robin breaks Socket.IO's polling",
        stdout_to_log=False,
    ),
    # -- one port, N processes
    Deployment(
        "rtchat-workers1",
        "workers",
        "rtchat serve --workers 1: a fresh PostgreSQL database, a private Redis",
        _rtchat_workers(1),
        _rtchat_shared_env,
        redis=True,
        postgres=True,
        modes=("workers",),
    ),
    Deployment(
        "rtchat-workers2",
        "workers",
        "rtchat serve --workers 2: a fresh PostgreSQL database, a private Redis; "
        "may use both cores",
        _rtchat_workers(2),
        _rtchat_shared_env,
        redis=True,
        postgres=True,
        cores="all",
        modes=("workers",),
    ),
]

BY_NAME = {d.name: d for d in DEPLOYMENTS}
# Null-server calibration is not a deployment under test (run.py starts it on its own).
NULL_SERVER = Deployment(
    "null-broadcast",
    "calibration",
    "calibration: the seed's broadcasts hand-written on node:http, no socket.io "
    "(benchmarks/servers/null_server.js)",
    lambda _ctx: ["node", str(BENCH / "servers" / "null_server.js")],
    _node_seed_env,
)
