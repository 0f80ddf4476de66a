"""The event loop's own work per headless activity: in process, and in a real server.

In process (no HTTP server, no database), the headless API's handler answers POST
/Kentico.Tracking/activities with 100-activity bodies (as bench/headless_bulk.py sends them,
and three other kinds) over and over, against a store that answers at once (the API key
found, every activity stored, or every one refused for want of consent): what is left is the
loop's share of a request, reading the body, parsing and checking it, building the
activities' columns and ids, and encoding the answer. The baseline of the same run is
json.loads of the same body alone. Figures are µs per activity, the best of several rounds.

With --server, also one uvicorn worker under headless_bulk.py's load (a small database): the
CPU time of the event loop's thread per activity stored, and of the other threads (the
writer, the readers), read from /proc: what the loop spends for an activity, HTTP included.
Rerun: `PYTHONPATH=src .venv/bin/python bench/headless_cost.py [--rounds 7] [--server]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kxt_middleware.activities import LogResult, LogStatus, NewActivity
from kxt_middleware.api_keys import Channel, _digest
from kxt_middleware.headless import HeadlessApi
from kxt_middleware.tracking import ActivityTracker

BATCH = 100
SECRET = "secret"
TOKEN = f"kxt_key_{SECRET}"
CHANNEL = Channel(uuid.UUID(int=7), "bench")


class AnsweringStore:
    """Finds the bench's API key and stores every activity at once (nothing is kept), or
    answers ``status`` for each."""

    def __init__(self, status: LogStatus = LogStatus.LOGGED) -> None:
        ids = [str(uuid.UUID(int=n)) if status is LogStatus.LOGGED else None for n in range(BATCH)]
        self.stored = [LogResult(status, id) for id in ids]

    async def active_api_key(self, key_id: str) -> tuple[str, Channel]:
        return _digest(SECRET), CHANNEL

    async def insert_activities(
        self, contact: uuid.UUID, activities: Sequence[NewActivity], *, consent: str | None = None
    ) -> list[LogResult]:
        return self.stored[: len(activities)]


def body(names: Callable[[str], str] = str, *, title: str | None = "", refused: int = 0) -> bytes:
    """A request body as headless_bulk.py sends it (``names`` spells the activities' property
    names, ``title`` is each one's title, the last ``refused`` activities are clicks without
    a value)."""
    items: list[dict[str, Any]] = [
        {
            names("type"): "click",
            names("value"): f"cta-{i % 50}",
            names("url"): f"https://app.example/p/{i}",
        }
        for i in range(BATCH - refused)
    ]
    items += [{names("type"): "click"}] * refused
    if title != "":
        for item in items:
            item[names("title")] = title
    contact = str(uuid.UUID(int=42))
    return json.dumps({"channel": "bench", "contact": contact, "activities": items}).encode()


def scope() -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/Kentico.Tracking/activities",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {TOKEN}".encode()),
            (b"content-type", b"application/json"),
        ],
    }


def handler_seconds(payload: bytes, times: int, refused: int, status: LogStatus) -> float:
    """Seconds for ``times`` requests through the headless API's handler (one 207 checked:
    every activity answered ``status`` but the ``refused`` last ones)."""
    store = AnsweringStore(status)
    api = HeadlessApi("/Kentico.Tracking", ActivityTracker(store))  # type: ignore[arg-type]
    request = scope()
    answered: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": payload, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        answered.append(message)

    async def run() -> float:
        started = time.perf_counter()
        for _ in range(times):
            await api.handle("/activities", request, receive, send)
        return time.perf_counter() - started

    spent = asyncio.run(run())
    results = json.loads(answered[1]["body"])["results"]
    assert answered[0]["status"] == 207 and len(results) == BATCH, results[:2]
    statuses = [result["status"] for result in results]
    code = 202 if status is LogStatus.LOGGED else 403
    assert statuses == [code] * (BATCH - refused) + [400] * refused, results[-2:]
    return spent


def loads_seconds(payload: bytes, times: int) -> float:
    started = time.perf_counter()
    for _ in range(times):
        json.loads(payload)
    return time.perf_counter() - started


def server_cost(seconds: int, connections: int) -> None:
    """Print the CPU time per activity stored of a real server's event loop (and of its other
    threads) under headless_bulk.py's load."""
    from headless_bulk import lua, prepare
    from servers import get_json, pid_of, thread_cpu, uvicorn, wrk

    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "bench.sqlite3"
        token, contacts, _ = asyncio.run(prepare(database, 10_000, 1_000))
        with uvicorn("tracked", {"KXT_BENCH_DATABASE": str(database)}) as base:
            url, script = f"{base}/Kentico.Tracking/activities", lua(token, contacts)
            pid = pid_of(base)
            wrk(url, connections=connections, seconds=2, lua=script)  # warm up
            before, used_before = get_json(f"{base}/stats"), thread_cpu(pid)
            load = wrk(url, connections=connections, seconds=seconds, lua=script)
            after, used = get_json(f"{base}/stats"), thread_cpu(pid)
    assert isinstance(before, dict) and isinstance(after, dict) and not load.non_2xx
    stored = after["activities"] - before["activities"]
    spent = {name: (used[name] - used_before.get(name, 0.0)) / stored * 1e6 for name in used}
    others = sum(value for name, value in spent.items() if name != "event loop")
    print(
        f"server: {stored / seconds:,.0f} activities/s stored; CPU per activity: event loop "
        f"{spent['event loop']:.2f} µs, other threads {others:.2f} µs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--server", action="store_true", help="also measure a real server")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    cases = {
        "as headless_bulk.py sends it": (body(), 0),
        'names capitalized, "Title": null': (body(str.title, title=None), 0),
        "one click without a value": (body(refused=1), 1),
        "a contact who has not consented (every answer 403)": (body(), 0, LogStatus.NO_CONSENT),
    }
    per = args.requests * BATCH / 1e6  # µs per activity
    for name, (payload, refused, *answered) in cases.items():
        status = answered[0] if answered else LogStatus.LOGGED
        loads = min(loads_seconds(payload, args.requests) for _ in range(args.rounds)) / per
        rounds = range(args.rounds)
        handler = min(handler_seconds(payload, args.requests, refused, status) for _ in rounds)
        handler /= per
        print(
            f"{name} ({len(payload):,} bytes): handler {handler:.2f} µs/activity, json.loads "
            f"alone {loads:.2f} µs/activity, handler ÷ json.loads = {handler / loads:.2f}"
        )
    if args.server:
        server_cost(args.seconds, args.connections)


if __name__ == "__main__":
    main()
