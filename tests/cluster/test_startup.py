"""A node that cannot reach Redis at start says so in one line and exits 2; one that can
names itself in `/healthz` and in its log lines."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from rtchat.logs import FLUSH_DELAY
from tests.cluster.nodes import REPO, running_cluster
from tests.redis_support import SHARED_URL, free_port


async def _serve(*args: str, env: dict[str, str]) -> tuple[int, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RTCHAT_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rtchat",
        "serve",
        "--port",
        "0",
        *args,
        cwd=REPO,
        env={**base, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(20):
        output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_redis_out_of_reach_at_start_is_one_line_and_exit_2(tmp_path: Path) -> None:
    port = free_port()
    code, output = await _serve(
        env={
            "RTCHAT_DATABASE_URL": f"sqlite:///{tmp_path}/chat.db",
            "RTCHAT_REDIS_URL": f"redis://127.0.0.1:{port}/0",
        }
    )
    assert code == 2
    assert output.strip().splitlines() == [
        line for line in output.strip().splitlines() if line.startswith("rtchat: ")
    ]
    assert f"Cannot reach Redis at 127.0.0.1:{port}" in output
    assert "Traceback" not in output


async def test_a_bad_redis_url_or_node_id_is_refused_before_anything_starts() -> None:
    code, output = await _serve(env={"RTCHAT_REDIS_URL": "http://redis:6379"})
    assert (code, output.count("\n")) == (2, 1)
    assert "redis_url" in output
    code, output = await _serve(env={"RTCHAT_NODE_ID": "web|1"})
    assert (code, output.count("\n")) == (2, 1)
    assert "node_id" in output


async def test_health_names_the_node_and_its_links(tmp_path: Path, postgres_url: str) -> None:
    async with running_cluster(
        1, tmp_path, database_url=postgres_url, redis_url=SHARED_URL
    ) as cluster:
        assert cluster[0].health() == {
            "status": "ok",
            "node": "n1",
            "connections": 0,
            "users": 0,
            "storage": "ok",
            "redis": "ok",
            "forwarded": 0,
            "filled": 0,
        }
        # Info lines reach the log within rtchat.logs.FLUSH_DELAY.
        for _ in range(100):
            if "[n1]" in cluster[0].log():
                break
            await asyncio.sleep(FLUSH_DELAY)
        assert "[n1]" in cluster[0].log()
