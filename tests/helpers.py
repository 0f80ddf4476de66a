"""Helpers shared by the tests: apps' routes, a hand-moved clock, the CLI, the admin, and what
a database holds, always read back through the storage seam (never with a driver)."""

from __future__ import annotations

import asyncio
import io
import re
import socket
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from kxt_middleware import (
    Activity,
    ActivityType,
    CustomActivityData,
    Store,
    get_activity_logger,
    get_cookie_level,
    get_current_contact,
    open_store,
    set_cookie_level,
)
from kxt_middleware.activities import ContactSummary, NewActivity
from kxt_middleware.cli import main
from kxt_middleware.operators import create_operator

T = TypeVar("T")
MakeStore = Callable[..., Store]  # the storage contract suite's fixture: a store on its database

SECRET = "test-secret-key"
LOAN = ActivityType("custom_loan_calculator", "Loan calculator usage")
CTA = ActivityType("custom_cta", "CTA click")


# -- a small site: consent, a server-side log, who am I ---------------------------------------


async def consent(request: Request) -> Response:
    level = (await request.json()).get("level", "ALL")
    return JSONResponse({"level": int(set_cookie_level(request, level))})


async def calculate(request: Request) -> Response:
    body = await request.json() if await request.body() else {}
    result = await get_activity_logger(request).log(
        body.get("type", LOAN.code_name),
        CustomActivityData(title="Loan calculator usage", value=str(body.get("value", "50000"))),
    )
    contact = get_current_contact(request)
    return JSONResponse(
        {
            "status": result.status.value,
            "id": result.activity_id,
            "contact": str(contact.guid) if contact else None,
        }
    )


async def whoami(request: Request) -> Response:
    contact = get_current_contact(request)
    return JSONResponse(
        {
            "level": int(get_cookie_level(request)),
            "contact": str(contact.guid) if contact else None,
        }
    )


async def level_only(request: Request) -> Response:
    return JSONResponse({"level": int(get_cookie_level(request))})


ROUTES = [
    Route("/consent", consent, methods=["POST"]),
    Route("/calculate", calculate, methods=["POST"]),
    Route("/whoami", whoami),
    Route("/level", level_only),
]


# -- time and ports ---------------------------------------------------------------------------

START = datetime(2025, 1, 1, 12, tzinfo=timezone.utc)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def free_port() -> int:
    """A loopback TCP port nobody listens on (for a server started by the test)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- what a database holds, read through the seam ---------------------------------------------


def in_store(database: Path | str, use: Callable[[Store], Awaitable[T]]) -> T:
    """``await use(store)`` on a store of its own on ``database``, from sync code (a test, or
    beside a server in another thread or process), in an event loop and thread of its own:
    the calling thread may be running a loop already (Playwright's sync API does)."""

    async def run() -> T:
        async with open_store(database) as store:
            return await use(store)

    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(lambda: asyncio.run(run())).result()


async def every_activity(store: Store) -> list[Activity]:
    """Every activity in the store, oldest first."""
    return [activity async for activity in store.iter_activities()]


async def every_contact(store: Store) -> list[ContactSummary]:
    """Every contact in the store, newest first."""
    contacts, cursor = await store.contact_page(limit=1_000)
    assert cursor is None, "more contacts than a test expects"
    return contacts


def stored_activities(database: Path | str) -> list[Activity]:
    """Every activity stored in ``database``, oldest first."""
    return in_store(database, every_activity)


def stored(database: Path | str, *fields: str) -> list[tuple[Any, ...]]:
    """``fields`` (type, value and source unless given) of every activity stored in
    ``database``, oldest first; ``source`` as its text."""
    fields = fields or ("type", "value", "source")
    return [
        tuple(
            getattr(activity, name).value if name == "source" else getattr(activity, name)
            for name in fields
        )
        for activity in stored_activities(database)
    ]


def stored_contacts(database: Path | str) -> list[ContactSummary]:
    """Every contact stored in ``database``, newest first."""
    return in_store(database, every_contact)


async def log(store: Store, contact: uuid.UUID, type: str, value: str = "") -> None:
    """Store one activity of ``contact`` and check that it was logged."""
    [result] = await store.insert_activities(contact, [NewActivity(type, value=value)])
    assert result.logged, result


# -- the kxt command --------------------------------------------------------------------------


def run(database: Path, *args: str, stdin: str = "") -> str:
    """``kxt --database DATABASE ARGS``: what it printed (it must succeed)."""
    out = io.StringIO()
    assert main(["--database", str(database), *args], out=out, stdin=io.StringIO(stdin)) == 0
    return out.getvalue()


def fails(database: Path, capsys: pytest.CaptureFixture[str], *args: str, stdin: str = "") -> str:
    """``kxt --database DATABASE ARGS`` exits 2 with one error line: that line."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--database", str(database), *args], out=io.StringIO(), stdin=io.StringIO(stdin))
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    return error


# -- the admin --------------------------------------------------------------------------------

ADMIN_SECRET = "admin-secret-key-for-tests"
XSS = "<img src=x onerror=alert(1)>"
PASSWORD = "correct horse battery"
# The new contact group form, filled in: loan prospects priced a loan with "IMG" twice in 30 days.
GROUP_FORM = {
    "name": "Loan prospects",
    "description": "People who priced a loan",
    "match": "any",
    "type_0": "custom_loan_calculator",
    "at_least_0": "2",
    "days_0": "30",
    "value_match_0": "contains",
    "value_0": "IMG",
}


async def seed_admin(database: Path) -> uuid.UUID:
    """Operator jane, a contact with three loan activities (XSS in them) and one page visit."""
    contact = uuid.uuid4()
    async with open_store(database, activity_types=[LOAN]) as store:
        await create_operator(store, "jane", PASSWORD)
        await store.insert_activities(
            contact,
            [NewActivity(LOAN.code_name, title=XSS, value=XSS, site="main") for _ in range(3)],
        )
        await store.insert_activities(uuid.uuid4(), [NewActivity("pagevisit", title="Home")])
    return contact


def csrf_token(client: TestClient, path: str = "/sign-in") -> str:
    """The CSRF field of the form on ``path``."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found, "no CSRF field on " + path
    return found.group(1)


def sign_in(client: TestClient, name: str = "jane", password: str = PASSWORD) -> None:
    """Sign in to the admin; it must send the operator to the overview."""
    response = client.post(
        "/sign-in", data={"name": name, "password": password, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/"


def post(client: TestClient, path: str, **data: str) -> httpx2.Response:
    """Post an admin form (with a valid CSRF token)."""
    return client.post(path, data={"csrf_token": csrf_token(client, "/activities"), **data})


def refused(client: TestClient, path: str, cases: list[tuple[str, str]]) -> None:
    """Each (query, message): ``path?query`` answers 400 with a page that says ``message``."""
    for query, message in cases:
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400 and message in response.text, query
