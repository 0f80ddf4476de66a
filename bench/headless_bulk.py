"""Headless API bulk ingest: 100-activity bodies from 16 connections into a large database.

The database is first filled through the store with --prefill activities (1,000,000 by
default) of 50,000 contacts, so inserts land in big indexes as on a live site. Then one
uvicorn worker serves the headless API (Bearer key, tracking consent checked in the writer's
transaction) and wrk sends POST /Kentico.Tracking/activities bodies of 100 activities each,
rotating over 64 consenting contacts. The baseline, measured in the same run, is the store
alone: the same 100-activity batches from 16 concurrent callers in process, without HTTP.
Rerun: `.venv/bin/python bench/headless_bulk.py [--prefill 1000000] [--seconds 10]
[--uvicorn standard]` (standard: httptools and uvloop, `.venv/bin/pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path

from servers import add_uvicorn_option, get_json, use_uvicorn, uvicorn, wrk

from kxt_middleware.activities import ActivitySource, NewActivity
from kxt_middleware.api_keys import create_api_key
from kxt_middleware.consents import Consent, add_consent, set_agreement
from kxt_middleware.storage import open_store

BATCH = 100


def activities(count: int, n: int = 0) -> list[NewActivity]:
    return [
        NewActivity(
            type="click",
            value=f"cta-{(n + i) % 50}",
            url=f"https://app.example/page/{(n + i) % 97}",
            source=ActivitySource.HEADLESS,
            site="bench",
        )
        for i in range(count)
    ]


async def prepare(database: Path, prefill: int, contacts: int) -> tuple[str, list[str], float]:
    """Fill the database; return (API token, consenting contacts, in-process activities/s)."""
    async with open_store(database, max_batch=64) as store:
        token, _ = await create_api_key(store, "bench")
        await add_consent(store, Consent("tracking", "Tracking"))
        people = [uuid.uuid4() for _ in range(contacts)]
        chunk = 1_000

        async def fill(worker: int) -> None:
            for n in range(worker, prefill // chunk, 8):
                await store.insert_activities(people[n % contacts], activities(chunk, n))

        await asyncio.gather(*(fill(w) for w in range(8)))
        consenting = [uuid.uuid4() for _ in range(64)]
        for contact in consenting:
            await set_agreement(store, contact, "tracking", True)
        # The baseline: the store alone, 16 callers of 100 activities, no HTTP.
        rows, started = 0, time.perf_counter()

        async def caller(contact: uuid.UUID) -> None:
            nonlocal rows
            while time.perf_counter() - started < 5:
                results = await store.insert_activities(
                    contact, activities(BATCH), consent="tracking"
                )
                rows += sum(1 for r in results if r)

        await asyncio.gather(*(caller(c) for c in consenting[:16]))
        in_process = rows / (time.perf_counter() - started)
        total = await store.count_activities()
    print(f"database holds {total:,} activities")
    return token, [str(c) for c in consenting], in_process


def lua(token: str, contacts: list[str]) -> str:
    bodies = [
        json.dumps(
            {
                "channel": "bench",
                "contact": contact,
                "activities": [
                    {"type": "click", "value": f"cta-{i % 50}", "url": f"https://app.example/p/{i}"}
                    for i in range(BATCH)
                ],
            }
        )
        for contact in contacts
    ]
    entries = ",\n".join(json.dumps(body) for body in bodies)
    return f"""
local bodies = {{
{entries}
}}
local n = 0
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  return wrk.format(nil, "/Kentico.Tracking/activities", nil, bodies[(n % #bodies) + 1])
end
"""


def arguments(description: str) -> argparse.ArgumentParser:
    """The options of a bulk ingest benchmark: the database's size, the load's."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--prefill", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    add_uvicorn_option(parser)
    return parser


def main() -> None:
    args = arguments(__doc__.splitlines()[0]).parse_args()
    use_uvicorn(args.uvicorn)
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "bench.sqlite3"
        started = time.perf_counter()
        token, contacts, in_process = asyncio.run(prepare(database, args.prefill, args.contacts))
        print(f"prefilled in {time.perf_counter() - started:.1f} s")
        with uvicorn("tracked", {"KXT_BENCH_DATABASE": str(database)}) as base:
            script = lua(token, contacts)
            wrk(
                f"{base}/Kentico.Tracking/activities",
                connections=args.connections,
                seconds=2,
                lua=script,
            )
            before = get_json(f"{base}/stats")
            load = wrk(
                f"{base}/Kentico.Tracking/activities",
                connections=args.connections,
                seconds=args.seconds,
                lua=script,
            )
            after = get_json(f"{base}/stats")
    assert isinstance(before, dict) and isinstance(after, dict)
    stored = (after["activities"] - before["activities"]) / args.seconds
    print(
        f"HTTP (uvicorn {args.uvicorn}): {load.requests_per_second:,.0f} req/s of {BATCH} "
        f"activities = {stored:,.0f} "
        f"activities/s stored (p50 {load.latency_p50_ms:.1f} ms, p99 {load.latency_p99_ms:.1f} ms"
        + (f", non-2xx {load.non_2xx}" if load.non_2xx else "")
        + ")"
    )
    print(
        f"store alone, in process, same batches: {in_process:,.0f} activities/s; "
        f"HTTP ÷ store alone = {stored / in_process:.2f}"
    )
    commits = after["commits"] - before["commits"]
    callers = after["callers"] - before["callers"]
    print(
        f"writer: {commits:,} commits of {callers / max(commits, 1):.1f} callers; commit "
        f"p50 {after['commit_ms_p50']:.2f} ms, p99 {after['commit_ms_p99']:.2f} ms"
    )


if __name__ == "__main__":
    main()
