"""PostgreSQL ingest: headless bulk activities/s with one and two processes, and the server
log route ÷ a bare route, beside the same figures on SQLite, from one run.

A PostgreSQL server is started from the machine's binaries (as the tests start theirs, but
with fsync on: commits are durable as SQLite's synchronous=FULL ones), or
``--postgres-url`` names one of yours (a database the benchmark may fill). Each database is
first filled with --prefill activities through the store. Then, for each backend:

- headless bulk: wrk sends 100-activity bodies (16 connections in all) to one uvicorn
  process, then to two uvicorn processes on two ports (stand-ins for two hosts; two wrk
  processes, 8 connections each, at the same time); activities/s are what the processes'
  writers stored during the run;
- the log route: 32 keep-alive consenting visitors on a route that logs one activity
  durably, against the bare app's plain route, and beside the same middleware on a route that
  builds that activity without storing it (what no writer can beat). These servers run side
  by side and wrk drives them in turn, --rounds times in alternating order; each figure is the
  median round, as the machine's other work moves single runs.

Rerun: `.venv/bin/python bench/postgres_ingest.py [--prefill 1000000] [--seconds 10]
[--rounds 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
from durable_log import visitors
from headless_bulk import arguments, prepare
from headless_bulk import lua as bulk_lua
from servers import Load, get_json, lua_rotating_headers, ratio_line, uvicorn, wrk

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.storage.postgres_server import database_url, throwaway_server  # noqa: E402


@contextlib.contextmanager
def postgres(given: str | None) -> Iterator[str]:
    """The URL of an empty database on the given server or on a throwaway one."""
    with contextlib.ExitStack() as stack:
        server = given or stack.enter_context(throwaway_server(fast=False))
        name = f"kxt_bench_{uuid.uuid4().hex[:8]}"
        asyncio.run(_sql(server, f"CREATE DATABASE {name}"))
        try:
            yield database_url(server, name)
        finally:
            asyncio.run(_sql(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def _sql(server: str, statement: str) -> None:
    connection = await asyncpg.connect(server)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def stored_per_second(bases: list[str], script: str, connections: int, seconds: int) -> float:
    """Activities/s the processes behind ``bases`` stored while wrk drove each of them."""
    url = "/Kentico.Tracking/activities"
    each = max(1, connections // len(bases))
    with ThreadPoolExecutor(max_workers=len(bases)) as pool:
        list(pool.map(lambda b: wrk(b + url, connections=each, seconds=2, lua=script), bases))
        before = [get_json(f"{base}/stats") for base in bases]
        loads = list(
            pool.map(lambda b: wrk(b + url, connections=each, seconds=seconds, lua=script), bases)
        )
        after = [get_json(f"{base}/stats") for base in bases]
    assert all(load.non_2xx == 0 for load in loads), loads
    stored = sum(a["activities"] - b["activities"] for a, b in zip(after, before, strict=True))  # type: ignore[index]
    return float(stored) / seconds


def bulk(database: str, token: str, contacts: list[str], args: argparse.Namespace) -> list[float]:
    """Headless bulk activities/s with one process, then with two."""
    env = {"KXT_BENCH_DATABASE": database}
    script = bulk_lua(token, contacts)
    with uvicorn("tracked", env) as base:
        one = stored_per_second([base], script, args.connections, args.seconds)
    with uvicorn("tracked", env) as first, uvicorn("tracked", env) as second:
        two = stored_per_second([first, second], script, args.connections, args.seconds)
    return [one, two]


BASELINE = "bare app, plain route (baseline)"


def log_routes(databases: dict[str, str], seconds: int, rounds: int) -> dict[str, Load]:
    """The bare route, then for each backend the route that logs one activity durably (and,
    on the first, the route that only builds it), 32 consenting visitors: the median round."""
    targets: dict[str, tuple[str, str | None]] = {}
    with contextlib.ExitStack() as servers:
        targets[BASELINE] = (servers.enter_context(uvicorn("bare", {})) + "/plain", None)
        for backend, database in databases.items():
            base = servers.enter_context(uvicorn("tracked", {"KXT_BENCH_DATABASE": database}))
            script = lua_rotating_headers(visitors(base, 32))
            if len(targets) == 1:
                label = "middleware, the activity built, not stored"
                targets[label] = (f"{base}/build", script)
            targets[f"{backend}, route that logs durably"] = (f"{base}/log", script)
        for url, script in targets.values():  # warm up
            wrk(url, connections=32, seconds=2, lua=script)
        loads: dict[str, list[Load]] = {label: [] for label in targets}
        for turn in range(rounds):
            for label in list(targets)[:: 1 if turn % 2 == 0 else -1]:
                url, script = targets[label]
                loads[label].append(wrk(url, connections=32, seconds=seconds, lua=script))
    return {
        label: sorted(runs, key=lambda load: load.requests_per_second)[len(runs) // 2]
        for label, runs in loads.items()
    }


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", help="a server of yours (default: a throwaway one)")
    parser.add_argument("--rounds", type=int, default=3, help="of the log route (median)")
    args = parser.parse_args()
    rates: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder, postgres(args.postgres_url) as url:
        databases = {"PostgreSQL": url, "SQLite": f"{folder}/bench.sqlite3"}
        for backend, database in databases.items():
            token, contacts, _ = asyncio.run(prepare(database, args.prefill, args.contacts))  # type: ignore[arg-type]
            rates[backend] = bulk(database, token, contacts, args)
        routes = log_routes(databases, args.seconds, args.rounds)
    print(f"\nheadless bulk, {args.connections} connections in all, 100 activities per request,")
    print(f"databases prefilled with {args.prefill:,} activities; {args.seconds} s per run")
    for backend, (one, two) in rates.items():
        print(
            f"{backend:<11} 1 process {one:9,.0f} activities/s   2 processes {two:9,.0f} "
            f"activities/s   2 ÷ 1 = {two / one:.2f}"
        )
    print(
        "\nserver route that logs one activity durably, 32 keep-alive visitors; "
        f"median of {args.rounds} rounds of {args.seconds} s"
    )
    for label, load in routes.items():
        print(ratio_line(label, load, routes[BASELINE]))


if __name__ == "__main__":
    main()
