"""A large activity table on PostgreSQL: what the admin's activities page, the group
recalculation and the retention purge cost at millions of rows, measured through the store.

The database (a throwaway server, or --postgres-url) is filled through the store with --rows
activities spread over the last 365 days (1,000 per call, 8 callers at once). Then each
operation runs --repeat times and its median is printed: the activities page's queries (the
newest page, a deep keyset page, pages filtered by type, contact and a week months ago, the
30-day chart's per-day counts), a group recalculation batch of 1,000 contacts, and purge
batches of 10,000 activities (the retention job's unit), with their rate.
Rerun: `.venv/bin/python bench/postgres_scale.py [--rows 2000000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from postgres_ingest import postgres

from kxt_middleware.activities import ActivityFilter, ActivitySource, NewActivity
from kxt_middleware.groups import ActivityCondition, ContactGroup
from kxt_middleware.storage import Store, open_store

NOW = datetime(2026, 6, 30, tzinfo=timezone.utc)
TYPES = ["pagevisit", "click", "landingpage", "datainput"]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


async def fill(store: Store, clock: Clock, rows: int, contacts: list[uuid.UUID]) -> None:
    calls = rows // 1_000
    step = timedelta(days=365) / calls

    async def caller(worker: int) -> None:
        for n in range(worker, calls, 8):
            clock.now = NOW - timedelta(days=365) + step * n  # read when the call starts
            batch = [
                NewActivity(
                    TYPES[(n + i) % 4],
                    value=f"v{(n + i) % 50}",
                    url=f"https://site.example/p/{i % 97}",
                    source=ActivitySource.SERVER,
                )
                for i in range(1_000)
            ]
            await store.insert_activities(contacts[n % len(contacts)], batch)

    await asyncio.gather(*(caller(w) for w in range(8)))


async def timed(label: str, repeat: int, work: Callable[[], Awaitable[Any]]) -> float:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        await work()
        seconds.append(time.perf_counter() - started)
    median = statistics.median(seconds)
    print(f"{label:<58} {median * 1000:9.1f} ms")
    return median


async def measure(url: str, rows: int, repeat: int) -> None:
    clock = Clock()
    contacts = [uuid.uuid4() for _ in range(max(1, rows // 2_000))]
    async with open_store(url, clock=clock, max_batch=64) as store:
        started = time.perf_counter()
        await fill(store, clock, rows, contacts)
        filled = time.perf_counter() - started
        clock.now = NOW
        total = await store.count_activities()
        print(f"{total:,} activities of {len(contacts):,} contacts, filled in {filled:.0f} s "
              f"({total / filled:,.0f} activities/s through the store)\n")  # fmt: skip
        newest = await store.select_activities(limit=50)
        middle = newest[0].row // 2
        week = NOW.date() - timedelta(days=180)
        await timed("activities page: newest 50", repeat, lambda: store.select_activities(limit=50))
        await timed(
            "activities page: 50 before the middle row (keyset)",
            repeat,
            lambda: store.select_activities(before=middle, limit=50),
        )
        await timed(
            "activities page: type = datainput",
            repeat,
            lambda: store.select_activities(ActivityFilter(type="datainput"), limit=50),
        )
        await timed(
            "activities page: one contact",
            repeat,
            lambda: store.select_activities(ActivityFilter(contact=contacts[7]), limit=50),
        )
        await timed(
            "activities page: a week 6 months ago",
            repeat,
            lambda: store.select_activities(
                ActivityFilter(start=week, end=week + timedelta(days=6)), limit=50
            ),
        )
        await timed(
            "activities page: chart, per-day counts of the last 30 days",
            repeat,
            lambda: store.daily_counts(
                ActivityFilter(), NOW.date() - timedelta(days=29), NOW.date()
            ),
        )
        await store.add_contact_group(
            ContactGroup(
                "engaged",
                "Engaged",
                conditions=[ActivityCondition("click", at_least=3, in_last_days=30)],
            )
        )
        after = iter(range(0, len(contacts), 1_000))
        await timed(
            "group recalculation: a batch of 1,000 contacts",
            min(repeat, len(contacts) // 1_000 or 1),
            lambda: store.recalculate_contact_group_batch("engaged", next(after), 1_000),
        )
        cutoff = NOW - timedelta(days=300)
        purge = await timed(
            "retention purge: a batch of 10,000 activities",
            repeat,
            lambda: store.purge_activities_before(cutoff, 10_000),
        )
        print(f"{'':<58} {10_000 / purge:9,.0f} activities/s purged")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres-url", help="a server of yours (default: a throwaway one)")
    args = parser.parse_args()
    with postgres(args.postgres_url) as url:
        asyncio.run(measure(url, args.rows, args.repeat))


if __name__ == "__main__":
    main()
