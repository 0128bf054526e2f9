"""HAProxy for tests, configured with the block of docs/SCALING.md that users copy: the
frontend bound to a free port on 127.0.0.1 and the servers replaced by a test's nodes."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from tests.redis_support import free_port

DOC = Path(__file__).resolve().parents[1] / "docs" / "SCALING.md"
MARK = "<!-- haproxy.cfg:"


def documented_config() -> str:
    """The fenced block after the haproxy.cfg marker in docs/SCALING.md."""
    text = DOC.read_text(encoding="utf-8")
    after = text[text.index(MARK) :]
    return after.split("```\n", 2)[1]


def config_for(port: int, backends: list[int]) -> str:
    lines = []
    for line in documented_config().splitlines():
        if re.match(r"\s+bind ", line):
            line = f"    bind 127.0.0.1:{port}"
        elif re.match(r"\s+server ", line):
            continue
        lines.append(line)
        if line.strip() == "default-server inter 1s fall 2 rise 1":
            lines += [f"    server web-{i + 1} 127.0.0.1:{p} check" for i, p in enumerate(backends)]
    config = "\n".join(lines) + "\n"
    assert config.count("    server web-") == len(backends), config
    return config


@contextlib.asynccontextmanager
async def running_haproxy(backends: list[int]) -> AsyncIterator[str]:
    """Start haproxy in front of `backends` (ports on 127.0.0.1); yields its URL."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="rtchat-haproxy-") as tmp:
        cfg = Path(tmp) / "haproxy.cfg"
        cfg.write_text(config_for(port, backends))
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        check = await asyncio.create_subprocess_exec(
            binary, "-c", "-q", "-f", str(cfg), stderr=asyncio.subprocess.PIPE
        )
        _, err = await check.communicate()
        assert check.returncode == 0, f"haproxy refused the documented config: {err.decode()}"
        process = await asyncio.create_subprocess_exec(
            binary,
            "-db",
            "-f",
            str(cfg),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                if process.returncode is not None:
                    break
                with contextlib.suppress(OSError):
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    break
                await asyncio.sleep(0.025)
            yield f"http://127.0.0.1:{port}"
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()
