"""Load time of the admin activities page with 1,000,000 activities: keyset vs OFFSET paging.

Run: .venv/bin/python bench/admin_activities.py [--rows 1000000] [--depth 500000]
Builds the database in a temporary file with executemany (a few seconds), then serves the
admin in-process and times the first page and a deep page (keyset), and compares the same
deep page's query with OFFSET paging as a baseline; then times date-filtered pages: a range
covering most of the year, with and without a type, and a narrow one months ago.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

from starlette.testclient import TestClient

from kxt_middleware import ActivityStore
from kxt_middleware.activities import format_time
from kxt_middleware.admin import admin_app
from kxt_middleware.admin.activity_log import ActivityFilter, activity_page
from kxt_middleware.operators import create_operator

PASSWORD = "bench password 1"
TYPES = ["pagevisit", "landingpage", "click", "datainput"]


def build(database: Path, rows: int, contacts: int) -> float:
    """Create the schema with the store, then bulk-insert ``rows`` activities; return seconds."""

    async def schema() -> None:
        async with ActivityStore(database) as store:
            await create_operator(store, "bench", PASSWORD)

    asyncio.run(schema())
    started = time.perf_counter()
    now = datetime.now(timezone.utc)
    rng = random.Random(5)
    with closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA synchronous = OFF")
        stamp = format_time(now - timedelta(days=366))
        connection.executemany(
            "INSERT INTO contacts (id, guid, created) VALUES (?, ?, ?)",
            ((n, str(uuid.UUID(int=rng.getrandbits(128))), stamp) for n in range(1, contacts + 1)),
        )
        span = 365 * 24 * 3600
        connection.executemany(
            "INSERT INTO activities (uid, contact_id, type, title, value, url, referrer, created, "
            "source, site) VALUES (?, ?, ?, ?, ?, ?, '', ?, 'server', 'main')",
            (
                (
                    str(uuid.UUID(int=rng.getrandbits(128))),
                    rng.randint(1, contacts),
                    TYPES[n % 4],
                    f"Page {n % 97}",
                    str(n % 1000),
                    f"https://example.org/page/{n % 97}",
                    format_time(now - timedelta(seconds=span * (rows - n) / rows)),
                )
                for n in range(rows)
            ),
        )
        connection.commit()
    return time.perf_counter() - started


def timed(call: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``call`` in milliseconds."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    """Build the database, time the pages and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--depth", type=int, default=500_000, help="rows before the deep page")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "bench.sqlite3"
        print(f"building {args.rows:,} activities of {args.contacts:,} contacts ...")
        print(f"  built in {build(database, args.rows, args.contacts):.1f} s")
        with closing(sqlite3.connect(database)) as connection:
            (deep_cursor,) = connection.execute(
                "SELECT id FROM activities ORDER BY id DESC LIMIT 1 OFFSET ?", (args.depth - 1,)
            ).fetchone()
        store = ActivityStore(database)
        app = admin_app(store=store, secret_key="bench-secret-key-0123", page_size=50)
        with TestClient(app) as client:
            page = client.get("/sign-in").text
            token = page.split('name="csrf_token" value="')[1].split('"')[0]
            client.post(
                "/sign-in", data={"name": "bench", "password": PASSWORD, "csrf_token": token}
            )

            def get(path: str) -> Callable[[], object]:
                def call() -> object:
                    response = client.get(path)
                    assert response.status_code == 200, response.text[:300]
                    return response

                return call

            def query(**cursor: int) -> Callable[[], object]:
                async def run() -> object:
                    return await activity_page(store, ActivityFilter(), limit=50, **cursor)

                return lambda: client.portal.call(run)

            today = datetime.now(timezone.utc).date()
            ranges = {
                "wide date range (300 days)": f"from={today - timedelta(days=300)}&to={today}",
                "wide date range and a type": (
                    f"from={today - timedelta(days=300)}&to={today}&type=click"
                ),
                "narrow range 200 days ago (7 days)": (
                    f"from={today - timedelta(days=200)}&to={today - timedelta(days=194)}"
                ),
                "narrow range 200 days ago and a type": (
                    f"from={today - timedelta(days=200)}&to={today - timedelta(days=194)}"
                    "&type=click"
                ),
                "from a date, no end (100 days)": f"from={today - timedelta(days=100)}",
            }
            dated = {
                label: timed(get(f"/activities?{q}"), args.repeat) for label, q in ranges.items()
            }
            first = timed(get("/activities"), args.repeat)
            deep = timed(get(f"/activities?before={deep_cursor}"), args.repeat)
            keyset_query = timed(query(before=deep_cursor), args.repeat)
            offset_query = timed(query(offset=args.depth), args.repeat)
            offset_page = offset_query - keyset_query + deep
            client.portal.call(store.close)
    print(f"activities page, first page (with the 30-day chart): {first:8.1f} ms")
    print(f"activities page, {args.depth:,} rows deep, keyset:       {deep:8.1f} ms")
    print(f"query only, {args.depth:,} rows deep, keyset (id < ?):  {keyset_query:8.2f} ms")
    print(f"query only, {args.depth:,} rows deep, OFFSET:           {offset_query:8.2f} ms")
    print(
        f"deep page with OFFSET (estimated: keyset page + query difference): {offset_page:.1f} ms"
    )
    print(
        f"OFFSET / keyset, query: {offset_query / keyset_query:,.0f}x; "
        f"page: {offset_page / deep:.1f}x"
    )
    for label, milliseconds in dated.items():
        print(f"activities page, {label + ':':36} {milliseconds:8.1f} ms")


if __name__ == "__main__":
    main()
