"""`rtchat serve` as a user starts it: a port from the command line, a clean stop on signals."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.support import listening_url


@contextlib.contextmanager
def _started(
    *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    with subprocess.Popen(
        [sys.executable, "-m", "rtchat", "serve", "--host", "127.0.0.1", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    ) as process:
        try:
            yield process, listening_url(process)
        finally:
            process.kill()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_with_code_0(sig: signal.Signals) -> None:
    with _started("--port", "0") as (process, url):
        with urllib.request.urlopen(url + "/healthz", timeout=5) as response:
            assert response.status == 200
        started = time.monotonic()
        process.send_signal(sig)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 5


def test_seed_port_variable_is_honoured() -> None:
    probe = __import__("socket").socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with _started(env={"PORT": str(port)}) as (_, url):
        assert url.endswith(f":{port}")


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--port", "99999"], {}),
        ([], {"RTCHAT_RATE_LIMIT": "fast"}),
        # A missing client folder used to start and serve a page without Socket.IO.
        ([], {"RTCHAT_SOCKETIO_CLIENT_DIR": "/no/such/dir"}),
        (["--socketio-client-dir", "/no/such/dir"], {}),
        ([], {"RTCHAT_API_KEYS": "newsbot:short"}),
        ([], {"RTCHAT_JWT_SECRET": "too short for HS256"}),
    ],
)
def test_bad_setting_stops_start_up_with_one_line(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rtchat", "serve", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=20,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("rtchat: bad setting:")
