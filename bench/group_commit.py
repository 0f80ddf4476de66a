"""Group commit: concurrent log() calls per second through ActivityStore vs one commit per call.

Both sides write the same rows to a fresh SQLite file with the same settings (WAL,
synchronous=FULL, so every commit is an fsync). The baseline commits each activity in its own
transaction, serialized by a lock (sharing one connection without a lock would let coroutines
commit each other's writes). Rerun: `.venv/bin/python bench/group_commit.py [--calls N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from kxt_middleware import ActivityStore
from kxt_middleware.activities import NewActivity, format_time, utc_now
from kxt_middleware.storage.sqlite.schema import MIGRATIONS


async def grouped(path: Path, calls: int, concurrency: int) -> tuple[float, ActivityStore]:
    store = ActivityStore(path)
    await store.open()
    contacts = [uuid.uuid4() for _ in range(concurrency)]

    async def visitor(contact: uuid.UUID, count: int) -> None:
        for n in range(count):
            [result] = await store.insert_activities(
                contact, [NewActivity(type="click", value=str(n))]
            )
            assert result.logged

    started = time.perf_counter()
    await asyncio.gather(*(visitor(c, calls // concurrency) for c in contacts))
    elapsed = time.perf_counter() - started
    await store.close()
    return elapsed, store


async def one_commit_per_call(path: Path, calls: int, concurrency: int) -> float:
    """Each call commits alone, in a thread of its own connection, one call at a time."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    for statement in MIGRATIONS[0]:
        connection.execute(statement)
    lock = asyncio.Lock()

    def commit(contact: str, n: int) -> None:
        stamp = format_time(utc_now())
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(
            "INSERT INTO contacts (guid, created) VALUES (?, ?) ON CONFLICT (guid) DO NOTHING",
            (contact, stamp),
        )
        connection.execute(
            "INSERT INTO activities (uid, contact_id, type, value, created, source) "
            "VALUES (?, (SELECT id FROM contacts WHERE guid = ?), 'click', ?, ?, 'server')",
            (str(uuid.uuid4()), contact, str(n), stamp),
        )
        connection.execute("COMMIT")

    async def visitor(contact: str, count: int) -> None:
        for n in range(count):
            async with lock:
                await asyncio.to_thread(commit, contact, n)

    started = time.perf_counter()
    await asyncio.gather(
        *(visitor(str(uuid.uuid4()), calls // concurrency) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        baseline = await one_commit_per_call(
            Path(folder) / "baseline.sqlite3", args.calls, args.concurrency
        )
        ours, store = await grouped(Path(folder) / "grouped.sqlite3", args.calls, args.concurrency)
    calls = args.calls // args.concurrency * args.concurrency
    sizes = store.stats.commit_sizes
    print(f"{calls} log() calls from {args.concurrency} concurrent visitors, synchronous=FULL")
    print(f"one commit per call : {calls / baseline:9.0f} calls/s  ({baseline:.2f} s)")
    print(f"ActivityStore       : {calls / ours:9.0f} calls/s  ({ours:.2f} s)")
    print(f"speed-up            : {baseline / ours:9.1f}x")
    print(
        f"commits: {store.stats.commits}; calls per commit: mean {statistics.mean(sizes):.1f}, "
        f"median {statistics.median(sizes):.0f}, max {store.stats.largest_commit}"
    )


if __name__ == "__main__":
    asyncio.run(main())
