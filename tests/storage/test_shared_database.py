"""Processes share one database: two uvicorn processes (stand-ins for two hosts) on one
PostgreSQL, and ``uvicorn --workers 2`` on one SQLite file, take concurrent durable logs,
consents and revocations through the headless API. What was acknowledged is stored, once; a
membership earned through one process is seen through the other; a revoke through one erases
the contact for both."""

from __future__ import annotations

import contextlib
import itertools
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest

from kxt_middleware import Store
from kxt_middleware.api_keys import create_api_key
from kxt_middleware.consents import Consent
from kxt_middleware.groups import ActivityCondition, ContactGroup

from ..helpers import every_activity, free_port, in_store

APP = textwrap.dedent(
    """
    import os
    import uuid
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from kxt_middleware import ActivityTrackingMiddleware, open_store
    from kxt_middleware.groups import groups_of_contact

    store = open_store(os.environ["KXT_DATABASE"])

    async def ready(request):
        return JSONResponse({"pid": os.getpid()})

    async def groups(request):
        found = await groups_of_contact(store, uuid.UUID(request.query_params["contact"]))
        return JSONResponse({"groups": sorted(found), "pid": os.getpid()})

    app = Starlette(
        routes=[Route("/ready", ready), Route("/groups", groups)],
        middleware=[Middleware(ActivityTrackingMiddleware, secret_key="s", store=store)],
    )
    """
)
P = "/Kentico.Tracking"
CLICKERS = ContactGroup(
    "clickers", "Clickers", conditions=[ActivityCondition("click", at_least=3)], match="all"
)
CONTACTS = 24
REQUESTS_PER_CONTACT = 6
ACTIVITIES_PER_REQUEST = 4


@contextlib.contextmanager
def servers(folder: Path, database: str, *, workers: int) -> Iterator[list[str]]:
    """Two processes on ``database``: two uvicorns on two ports (workers=1), or one uvicorn
    with two workers on one port (the same base URL twice)."""
    (folder / "shared_app.py").write_text(APP)
    ports = [free_port()] if workers > 1 else [free_port(), free_port()]
    processes = []
    for port in ports:
        command = [sys.executable, "-m", "uvicorn", "shared_app:app", "--port", str(port),
                   "--log-level", "warning", "--workers", str(workers)]  # fmt: skip
        processes.append(
            subprocess.Popen(
                command,
                cwd=folder,
                env={"KXT_DATABASE": database, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(folder)},
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for base, process in zip(bases, processes, strict=True):
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx2.get(f"{base}/ready", timeout=2)
                    break
                except httpx2.TransportError:
                    assert process.poll() is None, process.communicate()[1]
                    assert time.monotonic() < deadline, "uvicorn did not start"
                    time.sleep(0.1)
        yield bases * 2 if workers > 1 else bases
    finally:
        errors = []
        for process in processes:
            process.send_signal(signal.SIGTERM)
            errors.append(process.communicate(timeout=30)[1])
        assert all("Traceback" not in error for error in errors), errors


async def set_up(store: Store) -> tuple[str, str]:
    """The tracking consent, the clickers group and an API key: (token, channel GUID)."""
    await store.add_consent(Consent("tracking", "Tracking"))
    await store.add_contact_group(CLICKERS)
    token, key = await create_api_key(store, "app")
    return token, str(key.channel.guid)


def shared_database_proof(tmp_path: Path, database: str, *, workers: int) -> None:
    token, channel = in_store(database, set_up)
    auth = {"authorization": f"Bearer {token}"}
    contacts = [str(uuid.uuid4()) for _ in range(CONTACTS)]
    revoked = set(contacts[::6])
    with (
        servers(tmp_path, database, workers=workers) as (first, second),
        httpx2.Client(timeout=30, limits=httpx2.Limits(max_connections=32)) as client,
    ):
        bases = itertools.cycle([first, second])

        def post(base: str, path: str, body: dict[str, Any]) -> httpx2.Response:
            return client.post(f"{base}{P}{path}", json=body, headers=auth)

        # Consents through both processes.
        for contact, base in zip(contacts, bases, strict=False):
            agreed = post(base, f"/contacts/{contact}/consents/tracking", {"agree": True})
            assert agreed.json() == {"isAgreed": True}

        def log(job: tuple[str, int, str]) -> list[tuple[str, str, int]]:
            contact, n, base = job
            activities = [
                {"type": "click", "value": f"{n}.{i}"} for i in range(ACTIVITIES_PER_REQUEST)
            ]
            body = {"channel": channel, "contact": contact, "activities": activities}
            answers = post(base, "/activities", body).json()["results"]
            return [(contact, a.get("id", ""), a["status"]) for a in answers]

        def revoke(contact: str) -> int:
            time.sleep(0.05)  # amid the contact's logs
            return post(
                second, f"/contacts/{contact}/consents/tracking", {"agree": False}
            ).status_code

        jobs = [
            (contact, n, base)
            for n in range(REQUESTS_PER_CONTACT)
            for contact, base in zip(contacts, bases, strict=False)
        ]
        with ThreadPoolExecutor(max_workers=16) as pool:
            revokes = [pool.submit(revoke, contact) for contact in revoked]
            answers = [answer for answered in pool.map(log, jobs) for answer in answered]
            assert [r.result() for r in revokes] == [200] * len(revoked)

        refused = {(c, status) for c, _, status in answers if status != 202}
        assert {c for c, _ in refused} <= revoked and {s for _, s in refused} <= {403, 410}, refused
        acknowledged = [(c, ident) for c, ident, status in answers if status == 202]
        # A revoke through one process erases for both: logs through either are refused.
        for contact, base in itertools.product(sorted(revoked)[:2], (first, second)):
            body = {
                "channel": channel,
                "contact": contact,
                "activities": [{"type": "click", "value": "late"}],
            }
            answer = post(base, "/activities", body).json()["results"][0]
            assert answer["status"] == 410, answer
        # A membership earned through one process is seen by the other on the next request.
        newcomer = str(uuid.uuid4())
        assert post(first, f"/contacts/{newcomer}/consents/tracking", {"agree": True}).is_success
        for base in (first, second):
            seen = client.get(f"{base}/groups", params={"contact": newcomer}).json()
            assert seen["groups"] == []
        clicks = [{"type": "click", "value": "x"} for _ in range(3)]
        body = {"channel": channel, "contact": newcomer, "activities": clicks}
        assert [a["status"] for a in post(first, "/activities", body).json()["results"]] == [
            202
        ] * 3
        assert client.get(f"{second}/groups", params={"contact": newcomer}).json()["groups"] == [
            "clickers"
        ]

    stored = [
        (str(a.contact), a.id)
        for a in in_store(database, every_activity)
        if str(a.contact) != newcomer
    ]
    kept = [(contact, ident) for contact, ident in acknowledged if contact not in revoked]
    assert len(kept) == (CONTACTS - len(revoked)) * REQUESTS_PER_CONTACT * ACTIVITIES_PER_REQUEST
    # Stored = acknowledged: 0 lost, 0 duplicated, nothing of an erased contact.
    assert sorted(stored) == sorted(kept)


def test_two_processes_share_one_postgresql(tmp_path: Path, postgres_url: str) -> None:
    shared_database_proof(tmp_path, postgres_url, workers=1)


def test_two_workers_share_one_sqlite_file(tmp_path: Path) -> None:
    shared_database_proof(tmp_path, str(tmp_path / "kxt.sqlite3"), workers=2)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
