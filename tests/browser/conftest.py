"""Real-browser harness: headless Chromium via Playwright (sync API) against real uvicorn servers.

Every test in this directory is marked ``browser`` automatically.  Fixtures:

* ``browser``       -- one Chromium for the whole session (never skipped: fails if it cannot start);
* ``page``          -- a fresh browser context + page per test;
* ``serve``         -- ``serve(app) -> "http://127.0.0.1:PORT"``; any number of servers per test;
* ``artifacts_dir`` -- ``test-results/<test>/`` under the repo root, for screenshots.

Browser resolution matches ``scripts/ensure-browser``: ``$KXT_BROWSER_EXECUTABLE``, else
``/usr/bin/chromium``, else Playwright's own Chromium.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from starlette.types import ASGIApp

REPO_ROOT = Path(__file__).resolve().parents[2]
SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
SYSTEM_CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SERVER_START_TIMEOUT = 10.0
SERVER_STOP_TIMEOUT = 10.0
PAGE_DEFAULT_TIMEOUT_MS = 10_000
_BROWSER_DIR = Path(__file__).resolve().parent

Serve = Callable[..., str]


@pytest.hookimpl(tryfirst=True)  # before `-m` deselection sees the items
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _BROWSER_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Keep each phase's report on the item so `page` can screenshot failures.
    report = yield
    setattr(item, f"kxt_report_{report.when}", report)
    return report


def _browser_executable() -> str | None:
    env = os.environ.get("KXT_BROWSER_EXECUTABLE")
    if env:
        return env
    if SYSTEM_CHROMIUM.exists():
        return str(SYSTEM_CHROMIUM)
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = _browser_executable()
    args = SYSTEM_CHROMIUM_ARGS if executable else []
    with sync_playwright() as pw:
        try:
            launched = pw.chromium.launch(executable_path=executable, args=args, headless=True)
        except Exception as exc:  # any launch error means "no usable browser"
            pytest.fail(
                f"could not launch Chromium ({executable or 'Playwright bundled'}): {exc}\n"
                "Run `scripts/ensure-browser` (or `make browser-setup`) to install one, "
                "or point KXT_BROWSER_EXECUTABLE at a Chromium binary.",
                pytrace=False,
            )
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def _profile_context(browser: Browser, profile: Path) -> Iterator[BrowserContext]:
    """A persistent browser context on ``profile``, trusting the tests' self-signed
    certificates."""
    executable = _browser_executable()
    context = browser.browser_type.launch_persistent_context(
        str(profile),
        executable_path=executable,
        args=SYSTEM_CHROMIUM_ARGS if executable else [],
        headless=True,
        ignore_https_errors=True,
    )
    context.set_default_timeout(PAGE_DEFAULT_TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def third_party_cookie_context(
    browser: Browser, serve: Serve, tmp_path: Path
) -> Iterator[BrowserContext]:
    """A browser profile whose user allows third-party cookies (incognito contexts block them).

    Playwright's ``new_context()`` is off the record, where Chromium blocks third-party cookies;
    this is a persistent profile with the "allow third-party cookies" setting, trusting the
    tests' self-signed certificates. (It uses ``serve`` so it closes before the servers stop.)
    """
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    (profile / "Default" / "Preferences").write_text(
        json.dumps({"profile": {"cookie_controls_mode": 0, "block_third_party_cookies": False}})
    )
    with _profile_context(browser, profile) as context:
        yield context


@pytest.fixture
def default_profile(browser: Browser, serve: Serve, tmp_path: Path) -> Iterator[BrowserContext]:
    """A fresh browser profile with Chromium's default settings (third-party cookies blocked).
    (It uses ``serve`` so it closes before the servers stop.)"""
    with _profile_context(browser, tmp_path / "default-profile") as context:
        yield context


def _artifacts_path(node: pytest.Item) -> Path:
    module = Path(str(node.path)).stem
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{module}.{node.name}").strip("_")
    path = REPO_ROOT / "test-results" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    return _artifacts_path(request.node)


@pytest.fixture
def page(browser: Browser, serve: Serve, request: pytest.FixtureRequest) -> Iterator[Page]:
    # Depends on `serve` only so that pages close before servers stop (no open streams at exit).
    context = browser.new_context()
    context.set_default_timeout(PAGE_DEFAULT_TIMEOUT_MS)
    try:
        pg = context.new_page()
        yield pg
        report = getattr(request.node, "kxt_report_call", None)
        if report is not None and report.failed and not pg.is_closed():
            path = _artifacts_path(request.node) / "failure.png"
            try:
                pg.screenshot(path=str(path), full_page=True)
            except Exception:  # best effort: never mask the real failure
                pass
    finally:
        context.close()


class _ServerThread:
    """One uvicorn server on a pre-bound loopback socket, run in a daemon thread."""

    def __init__(self, app: ASGIApp, host: str, name: str, tls: Path | None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.port: int = self.sock.getsockname()[1]
        self.scheme = "https" if tls else "http"
        self.name = name
        config = uvicorn.Config(
            app,
            host=host,
            port=self.port,
            lifespan="on",
            log_level="warning",
            timeout_graceful_shutdown=5,
            ssl_certfile=tls,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.sock]},
            name=f"uvicorn-{self.port}",
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.name}:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive():
                pytest.fail(f"uvicorn on {self.url} exited during start-up (see log above)")
            if time.monotonic() > deadline:
                pytest.fail(f"uvicorn on {self.url} did not start within {SERVER_START_TIMEOUT}s")
            time.sleep(0.01)

    def stop(self) -> bool:
        """Ask the server to exit and wait for it; return False if it is still running."""
        self.server.should_exit = True
        if self.thread.ident is not None:
            self.thread.join(SERVER_STOP_TIMEOUT)
        self.sock.close()
        return not self.thread.is_alive()


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[_ServerThread] = []

    def _serve(
        app: ASGIApp, *, host: str = "127.0.0.1", name: str | None = None, tls: Path | None = None
    ) -> str:
        """Serve ``app`` on a free port of ``host``; ``name`` is the URL's host (default ``host``),
        ``tls`` a PEM file with certificate and key for https."""
        server = _ServerThread(app, host, name or host, tls)
        servers.append(server)
        server.start()
        return server.url

    yield _serve
    stuck = [server.url for server in reversed(servers) if not server.stop()]
    if stuck:
        pytest.fail(f"uvicorn did not stop within {SERVER_STOP_TIMEOUT}s: {', '.join(stuck)}")
