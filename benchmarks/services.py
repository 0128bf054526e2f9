"""What a server set shares: a private redis-server, a fresh PostgreSQL database, HAProxy.

Never the machine's own Redis at 6379: each server set gets a `redis-server` of its own on a
free port in its scratch dir, nothing saved. PostgreSQL is the machine's (127.0.0.1:5432,
user postgres); each server set gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import resource
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import procs

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
# Long-polling GETs are held for up to pingInterval (25 s in every server under test).
HAPROXY_TIMEOUT_S = 60


def start_redis(tmp: Path, log_path: Path, pin: list[str]) -> procs.Proc:
    port = procs.free_port()
    argv = [
        *pin,
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp),
        "--logfile",
        "",
    ]
    return procs.spawn(
        "redis", "redis", argv, port, env=dict(os.environ), cwd=tmp, log_path=log_path
    )


def redis_version() -> str:
    out = _cmd(["redis-server", "--version"])
    return out.split(" v=", 1)[1].split()[0] if " v=" in out else out


def haproxy_version() -> str:
    out = _cmd([HAPROXY, "-v"])
    return out.split("\n", 1)[0].removeprefix("HAProxy version ").split(" ", 1)[0] or out


def _cmd(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"unavailable ({e})"


# ---------------------------------------------------------------- PostgreSQL


def _pg(coro_fn: Any, *args: Any) -> Any:
    import asyncpg  # the project's own driver, pinned in constraints.txt

    async def go() -> Any:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
        try:
            return await coro_fn(conn, *args)
        finally:
            await conn.close()

    return asyncio.run(go())


def create_database() -> str:
    """A fresh, empty database for one server set; returns its name."""
    name = f"rtchat_bench_{os.getpid()}_{secrets.token_hex(4)}"

    async def go(conn: Any) -> None:
        await conn.execute(f'CREATE DATABASE "{name}"')

    _pg(go)
    return name


def drop_database(name: str) -> None:
    async def go(conn: Any) -> None:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    _pg(go)


def backend_pids(name: str) -> list[int]:
    """What pg_stat_activity says serves `name`: the cross-check of procs.postgres_pids."""

    async def go(conn: Any) -> list[int]:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", name)
        return sorted(int(r["pid"]) for r in rows)

    return list(_pg(go))


def postgres_version() -> str:
    async def go(conn: Any) -> str:
        return str(await conn.fetchval("SHOW server_version"))

    try:
        return str(_pg(go))
    except (OSError, ImportError) as e:
        return f"unavailable ({e})"
    except Exception as e:  # asyncpg's own errors: the report says why, the run goes on
        return f"unavailable ({type(e).__name__}: {e})"


def database_url(name: str) -> str:
    admin = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{admin}/{name}"


# ---------------------------------------------------------------- HAProxy


def haproxy_config(
    port: int, backends: list[tuple[str, int]], sticky: bool, maxconn: int = 5000
) -> str:
    """A front on `port` for `backends`, round-robin; sticky adds HAProxy's own cookie.

    Sticky is what Socket.IO's docs set up for HAProxy (a cookie naming the server, set on
    the handshake's answer); without it every request may reach another node. Each answer
    says which server it came from (X-Served-By), so the generator can show that
    round-robin really spread one session's requests over several nodes.
    """
    cookie = "    cookie SERVERID insert indirect nocache\n" if sticky else ""
    servers = "".join(
        f"    server {name} 127.0.0.1:{p}" + (f" cookie {name}" if sticky else "") + "\n"
        for name, p in backends
    )
    t = HAPROXY_TIMEOUT_S
    return (
        "global\n"
        f"    maxconn {maxconn}\n"
        "    nbthread 1\n"
        "defaults\n"
        "    mode http\n"
        "    timeout connect 5s\n"
        f"    timeout client {t}s\n"
        f"    timeout server {t}s\n"
        "    timeout http-keep-alive 30s\n"
        "frontend chat\n"
        f"    bind 127.0.0.1:{port}\n"
        f"    maxconn {maxconn}\n"
        "    default_backend nodes\n"
        "backend nodes\n"
        "    balance roundrobin\n"
        f"{cookie}"
        "    http-response set-header X-Served-By %[srv_name]\n"
        f"{servers}"
    )


def start_haproxy(
    backends: list[tuple[str, int]], sticky: bool, tmp: Path, log_path: Path, pin: list[str]
) -> procs.Proc:
    port = procs.free_port()
    cfg = tmp / "haproxy.cfg"
    # HAProxy wants two descriptors per connection and refuses to start without them.
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    cfg.write_text(
        haproxy_config(port, backends, sticky, max(1000, min(50_000, (soft - 200) // 2)))
    )
    check = subprocess.run(
        [HAPROXY, "-c", "-q", "-f", str(cfg)], capture_output=True, text=True, timeout=20
    )
    if check.returncode != 0:
        raise procs.ServerFailedError(f"haproxy refused its config: {check.stderr.strip()}")
    argv = [*pin, HAPROXY, "-db", "-f", str(cfg)]
    return procs.spawn(
        "haproxy", "balancer", argv, port, env=dict(os.environ), cwd=tmp, log_path=log_path
    )
