"""Exporting the filtered activity log from the admin: the CLI's formats, streamed."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.testclient import TestClient

from kxt_middleware import ActivityStore
from kxt_middleware.activities import EXPORT_FIELDS, ActivitySource, NewActivity
from kxt_middleware.admin import admin_app
from kxt_middleware.admin.export import PAGE_SIZE
from kxt_middleware.operators import create_operator

from .helpers import ADMIN_SECRET, LOAN, PASSWORD, refused, run, seed_admin, sign_in


@pytest.fixture
def contact(database: Path) -> uuid.UUID:
    return asyncio.run(seed_admin(database))


@pytest.fixture
def client(database: Path, contact: uuid.UUID) -> Iterator[TestClient]:
    app = admin_app(database=database, secret_key=ADMIN_SECRET, failed_sign_in_delay=0)
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client)
        yield client


def test_the_export_is_what_the_cli_writes(
    client: TestClient, database: Path, contact: uuid.UUID
) -> None:
    for format in ("csv", "jsonl"):
        response = client.get(f"/activities/export?format={format}")
        assert response.status_code == 200
        assert response.content.decode() == run(database, "activities", "--format", format)
        disposition = response.headers["content-disposition"]
        assert re.fullmatch(
            rf'attachment; filename="activities-\d{{8}}-\d{{6}}\.{format}"', disposition
        )
    csv_response = client.get("/activities/export?format=csv")
    assert csv_response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(csv_response.text)))
    assert rows[0] == list(EXPORT_FIELDS) and len(rows) == 5
    jsonl = client.get("/activities/export?format=jsonl")
    assert jsonl.headers["content-type"] == "application/x-ndjson; charset=utf-8"
    lines = [json.loads(line) for line in jsonl.text.splitlines()]
    assert [line["type"] for line in lines] == [LOAN.code_name] * 3 + ["pagevisit"]
    assert lines[0]["contact"] == str(contact) and lines[0]["title"] == rows[1][3]


def test_the_filters_of_the_log_select_what_is_exported(
    client: TestClient, database: Path, contact: uuid.UUID
) -> None:
    def exported(query: str) -> list[dict[str, Any]]:
        response = client.get(f"/activities/export?format=jsonl&{query}")
        assert response.status_code == 200, response.text
        return [json.loads(line) for line in response.text.splitlines()]

    assert [a["type"] for a in exported("type=PAGEVISIT")] == ["pagevisit"]
    assert {a["contact"] for a in exported(f"contact={contact}")} == {str(contact)}
    assert len(exported(f"contact={contact}")) == 3
    assert len(exported("site=main&source=server")) == 3
    assert exported("source=headless") == exported("to=2000-01-01") == []
    assert len(exported("from=2000-01-01&to=9999-12-31")) == 4
    by_cli = run(database, "activities", "--format", "csv", "--type", "pagevisit")
    assert client.get("/activities/export?format=csv&type=pagevisit").text == by_cli
    # The log's page links to the export of its filters.
    page = client.get(f"/activities?type=pagevisit&contact={contact}").text
    assert f'href="/activities/export?type=pagevisit&amp;contact={contact}&amp;format=csv"' in page
    assert (
        f'href="/activities/export?type=pagevisit&amp;contact={contact}&amp;format=jsonl"' in page
    )


def test_bad_requests_say_what_to_fix(client: TestClient) -> None:
    cases = [
        ("", "format must be csv or jsonl"),
        ("format=xml", "format must be csv or jsonl"),
        ("format=csv&contact=nope", "not a contact GUID"),
        ("format=csv&from=2025-02-01&to=2025-01-01", "ends before it starts"),
    ]
    refused(client, "/activities/export", cases)
    client.cookies.clear()
    response = client.get("/activities/export?format=csv")
    assert response.status_code == 303 and response.headers["location"] == "/sign-in"


def test_a_large_export_is_streamed_page_by_page(database: Path) -> None:
    total = 3 * PAGE_SIZE + 500

    async def export() -> list[dict[str, Any]]:
        async with ActivityStore(database, activity_types=[LOAN]) as store:
            await create_operator(store, "jane", PASSWORD)
            for _ in range(total // 500):
                batch = [NewActivity(LOAN.code_name, value="x" * 50) for _ in range(500)]
                await store.insert_activities(uuid.uuid4(), batch)
            await store.insert_activities(
                uuid.uuid4(), [NewActivity("click", source=ActivitySource.BROWSER)]
            )
        admin = admin_app(database=database, secret_key=ADMIN_SECRET, failed_sign_in_delay=0)
        cookie = await signed_in_cookie(admin)
        messages: list[dict[str, Any]] = []

        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if requested:  # the client stays connected until the response ends
                await asyncio.Event().wait()
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/activities/export",
            "raw_path": b"/activities/export",
            "root_path": "",
            "query_string": f"format=csv&type={LOAN.code_name}".encode(),
            "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
            "client": ("127.0.0.1", 5000),
            "server": ("testserver", 80),
        }
        await admin(scope, receive, send)
        await admin.close()
        return messages

    messages = asyncio.run(export())
    assert messages[0]["type"] == "http.response.start" and messages[0]["status"] == 200
    bodies = [m for m in messages[1:] if m["type"] == "http.response.body"]
    chunks = [m["body"] for m in bodies if m["body"]]
    # The header, then one chunk per page of records: never the whole export at once.
    assert len(chunks) == 1 + 4
    assert chunks[0] == (",".join(EXPORT_FIELDS) + "\n").encode()
    assert [chunk.count(b"\n") for chunk in chunks[1:]] == [PAGE_SIZE] * 3 + [500]
    assert all(m.get("more_body") for m in bodies[:-1]) and not bodies[-1].get("more_body")
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert len(rows) == 1 + total and {row[2] for row in rows[1:]} == {LOAN.code_name}


async def signed_in_cookie(admin: Any) -> str:
    """The session cookie of jane, signed in through the admin's own form."""
    transport = httpx2.ASGITransport(app=admin)
    async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as web:
        page = (await web.get("/sign-in")).text
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found
        form = {"name": "jane", "password": PASSWORD, "csrf_token": found.group(1)}
        response = await web.post("/sign-in", data=form)
        assert response.status_code == 303
        return f"kxt_admin={web.cookies['kxt_admin']}"
