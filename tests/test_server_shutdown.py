"""A real uvicorn process: SIGTERM flushes pending writes and closes the database cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest

from .helpers import free_port, stored

APP = textwrap.dedent(
    """
    import os
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from kxt_middleware import (
        ActivityTrackingMiddleware, CookieLevel, CustomActivityData, get_activity_logger,
        set_cookie_level,
    )

    async def consent(request):
        set_cookie_level(request, CookieLevel.ALL)
        return JSONResponse({})

    async def log(request):
        result = await get_activity_logger(request).log(
            "click", CustomActivityData(value=request.query_params["n"])
        )
        return JSONResponse({"status": result.status.value})

    app = Starlette(
        routes=[Route("/consent", consent, methods=["POST"]), Route("/log", log, methods=["POST"])],
        middleware=[Middleware(
            ActivityTrackingMiddleware, secret_key="s", database=os.environ["KXT_DATABASE"]
        )],
    )
    """
)


@pytest.mark.parametrize("lifespan", ["on", "off"])
def test_sigterm_keeps_every_acknowledged_activity(tmp_path: Path, lifespan: str) -> None:
    (tmp_path / "site_app.py").write_text(APP)
    database = tmp_path / "kxt.sqlite3"
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "site_app:app",
            "--port",
            str(port),
            "--lifespan",
            lifespan,
            "--log-level",
            "warning",
        ],
        cwd=tmp_path,
        env={"KXT_DATABASE": str(database), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx2.Client(base_url=base, timeout=10) as client:
            deadline = time.monotonic() + 20
            while True:
                try:
                    client.post("/consent")
                    break
                except httpx2.TransportError:
                    assert time.monotonic() < deadline, "uvicorn did not start"
                    time.sleep(0.05)
            client.post("/log?n=first")  # creates the contact cookie
            cookies = dict(client.cookies)

        def log(n: int) -> str:
            with httpx2.Client(base_url=base, cookies=cookies, timeout=10) as one:
                return str(one.post(f"/log?n={n}").json()["status"])

        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(log, range(40)))
        assert statuses == ["logged"] * 40
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert server.returncode in (0, -signal.SIGTERM), stderr
    assert "Traceback" not in stderr
    if lifespan == "on":  # closed cleanly: SQLite checkpointed and removed the WAL file
        assert not Path(f"{database}-wal").exists()
    assert sorted(value for (value,) in stored(database, "value")) == sorted(
        ["first", *map(str, range(40))]
    )
