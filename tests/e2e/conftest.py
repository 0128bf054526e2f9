"""Fixtures for the browser tests: a real `rtchat serve` subprocess and headless Chromium.

The server is started the way a user starts it (``python -m rtchat serve``) on port 0,
and the bound port is read from the line it prints once it is ready. One Chromium serves
every test of a run (of an xdist worker), each test in contexts of its own; so these tests
run in the session's event loop, where that browser's connection lives, and an async fixture
of this folder says `@pytest_asyncio.fixture(loop_scope="session")` to run there too.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, Playwright, async_playwright, expect
from pytest_asyncio import is_async_test

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED_CLIENT_DIR = Path(__file__).resolve().parent / "seed_client"
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"

READY_TIMEOUT_S = 15
STOP_TIMEOUT_S = 10
READY_LINE = re.compile(r"rtchat listening on (http://127\.0\.0\.1:\d+)")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

# Socket.IO events cross two processes and a browser; allow more than the 5 s default.
expect.set_options(timeout=10_000)

NewPage = Callable[..., Awaitable[Page]]
StartServer = Callable[..., AbstractAsyncContextManager[str]]
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    session_loop = pytest.mark.asyncio(loop_scope="session")
    for item in items:
        if is_async_test(item) and HERE in item.path.parents:
            item.add_marker(session_loop, append=False)


async def _drain(stream: asyncio.StreamReader, lines: list[str]) -> None:
    # Keep reading after start-up so a chatty server never blocks on a full pipe;
    # the lines are shown if the test fails.
    while line := await stream.readline():
        lines.append(line.decode(errors="replace").rstrip())


@contextlib.asynccontextmanager
async def run_server(
    tmp_path: Path,
    *,
    static_dir: Path | None = None,
    port: int = 0,
    settings: Mapping[str, str] | None = None,
) -> AsyncIterator[str]:
    """Start `python -m rtchat serve` and yield its base URL.

    Port 0 picks a free port; a restart test passes the previous one to come back on it.
    The database lives in tmp_path, so a restart keeps it. `settings` are extra
    `RTCHAT_*` environment variables.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTCHAT_")}
    env["RTCHAT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'chat.db'}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings or {})
    cmd = [sys.executable, "-m", "rtchat", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if static_dir is not None:
        cmd += ["--static-dir", str(static_dir)]
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        cwd=REPO_ROOT,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    output: list[str] = []
    drain: asyncio.Task[None] | None = None
    try:
        url = await asyncio.wait_for(_read_url(proc.stdout, output), READY_TIMEOUT_S)
        drain = asyncio.create_task(_drain(proc.stdout, output))
        yield url
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if drain is not None:
            # The pipe closes when the process exits; collect its last words.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(drain, STOP_TIMEOUT_S)
        # Captured by pytest and shown only when a test fails.
        print("rtchat server output:\n" + "\n".join(output))


async def _read_url(stdout: asyncio.StreamReader, output: list[str]) -> str:
    while line := await stdout.readline():
        text = line.decode(errors="replace").rstrip()
        output.append(text)
        if match := READY_LINE.search(text):
            return match.group(1)
    raise RuntimeError("rtchat exited before it was ready")


@pytest.fixture
def start_server(tmp_path: Path) -> StartServer:
    """`async with start_server() as url:` for tests that stop and start the server."""
    return functools.partial(run_server, tmp_path)


@pytest_asyncio.fixture(loop_scope="session")
async def server_url(tmp_path: Path) -> AsyncIterator[str]:
    """rtchat serving its own browser client."""
    async with run_server(tmp_path) as url:
        yield url


@pytest_asyncio.fixture(loop_scope="session")
async def seed_server_url(tmp_path: Path) -> AsyncIterator[str]:
    """rtchat serving the seed tutorial's client, unchanged."""
    async with run_server(tmp_path, static_dir=SEED_CLIENT_DIR) as url:
        yield url


class Chromium:
    """One headless Chromium for many tests: launched on first use, and again if it died (so
    a crash fails the test it happened in, not every test after it)."""

    def __init__(self, playwright: Playwright) -> None:
        self._playwright = playwright
        self._browser: Browser | None = None

    async def browser(self) -> Browser:
        if self._browser is None or not self._browser.is_connected():
            self._browser = await self._playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
            )
        return self._browser

    async def close(self) -> None:
        if self._browser is not None and self._browser.is_connected():
            await self._browser.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chromium() -> AsyncIterator[Chromium]:
    # Launching Chromium (and Playwright's driver) costs a second or more: once per run.
    async with async_playwright() as pw:
        shared = Chromium(pw)
        try:
            yield shared
        finally:
            await shared.close()


@pytest_asyncio.fixture(loop_scope="session")
async def browser(chromium: Chromium) -> AsyncIterator[Browser]:
    """The run's Chromium; every context a test opened in it is closed after the test."""
    shared = await chromium.browser()
    before = set(shared.contexts)
    yield shared
    for context in shared.contexts:
        if context not in before:
            await context.close()


@pytest_asyncio.fixture(loop_scope="session")
async def new_page(browser: Browser) -> AsyncIterator[NewPage]:
    """Open a page in its own context (own cookies, own socket); fail on any JS error."""
    errors: list[str] = []

    async def open_page(url: str, *, width: int = 900, height: int = 700) -> Page:
        context = await browser.new_context(viewport={"width": width, "height": height})
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"{url}: {exc}"))
        await page.goto(url)
        return page

    yield open_page
    assert errors == [], "uncaught errors in the page"


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    return ARTIFACTS_DIR
