"""Clusters of real `rtchat serve` processes on fixed free ports, sharing a database and a
Redis prefix, that a test can kill -9, stop and start again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.redis_support import free_port, new_prefix

READY_S = 20.0
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Node:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "rtchat",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                cwd=REPO,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            if b"rtchat listening on" in self.log_path.read_bytes()[offset:]:
                return
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        raise AssertionError(f"node {self.name} did not start:\n{self.log()[-3000:]}")

    async def kill(self) -> None:
        """kill -9: no goodbye, no cleanup, as a crash."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self, within: float = 10.0) -> int:
        """SIGTERM, and the exit code."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(within):
                return await self.process.wait()
        except TimeoutError:
            await self.kill()
            raise AssertionError(f"node {self.name} did not stop within {within} s") from None

    def health(self) -> dict[str, object]:
        with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as answer:
            return json.loads(answer.read())  # type: ignore[no-any-return]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Cluster:
    nodes: list[Node]
    prefix: str

    def __getitem__(self, i: int) -> Node:
        return self.nodes[i]

    @property
    def ports(self) -> list[int]:
        return [n.port for n in self.nodes]

    def tracebacks(self) -> list[str]:
        return [n.name for n in self.nodes if "Traceback" in n.log()]


@contextlib.asynccontextmanager
async def running_cluster(
    count: int,
    tmp_path: Path,
    *,
    database_url: str,
    redis_url: str,
    settings: Mapping[str, str] | None = None,
) -> AsyncIterator[Cluster]:
    """Start `count` nodes (n1, n2, ...) and stop them all afterwards."""
    prefix = new_prefix()
    base = {k: v for k, v in os.environ.items() if not k.startswith("RTCHAT_")}
    base.update(
        {
            "PYTHONUNBUFFERED": "1",
            "RTCHAT_DATABASE_URL": database_url,
            "RTCHAT_REDIS_URL": redis_url,
            "RTCHAT_REDIS_PREFIX": prefix,
            "RTCHAT_PRESENCE_TTL": "3",
            **(settings or {}),
        }
    )
    nodes = [
        Node(
            f"n{i + 1}",
            free_port(),
            {**base, "RTCHAT_NODE_ID": f"n{i + 1}"},
            tmp_path / f"n{i + 1}.log",
        )
        for i in range(count)
    ]
    try:
        await asyncio.gather(*(node.start() for node in nodes))
        yield Cluster(nodes, prefix)
    finally:
        for node in nodes:
            await node.kill()
