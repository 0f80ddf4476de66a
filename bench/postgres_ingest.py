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

For each bulk run it prints where the CPU went: the machine's idle share and CPU milliseconds
per 1,000 activities stored by the uvicorn processes, the PostgreSQL server (every process of
its postmaster), wrk and the rest; and for each route, CPU microseconds per request. When the
1-process run leaves no core idle, a second process can add only what the first one's CPU per
activity leaves room for: the "ceiling" line is 1 + idle ÷ ours in the 1-process run (ours:
uvicorn, PostgreSQL and wrk), unless the second process takes CPU from the machine's other work.

Rerun: `.venv/bin/python bench/postgres_ingest.py [--prefill 1000000] [--seconds 10]
[--rounds 3] [--postgres-only] [--lock /tmp/bench.lock]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from durable_log import visitors
from headless_bulk import arguments, prepare
from headless_bulk import lua as bulk_lua
from servers import (
    Load,
    get_json,
    lua_rotating_headers,
    pid_of,
    ratio_line,
    use_uvicorn,
    uvicorn,
    wrk,
)

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


# -- where the CPU goes ------------------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int) -> tuple[int, float]:
    """(parent pid, CPU seconds used, user + system) of a process; (0, 0.0) if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0, 0.0
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def _machine() -> tuple[float, float]:
    """(idle, total) CPU seconds of every core since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (values[3] + values[4]) / TICKS, sum(values) / TICKS


async def _postmaster(url: str) -> int | None:
    """The process id of the server's postmaster: the parent of our backend (read while it
    runs), whose children are the whole server (backends, WAL writer, checkpointer); None
    when the server runs elsewhere (its CPU is then not counted)."""
    connection = await asyncpg.connect(url)
    try:
        backend = int(await connection.fetchval("SELECT pg_backend_pid()"))
        parent = _process_cpu(backend)[0]
    finally:
        await connection.close()
    return parent if parent > 1 else None


@dataclass
class CpuSample:
    """CPU seconds used so far: by the uvicorn processes, by the PostgreSQL server (its
    postmaster and every process it forked), by wrk (the children this process waited
    for), and the machine's idle and total."""

    uvicorn: float
    postgres: dict[int, float]
    wrk: float
    idle: float
    total: float


def sample_cpu(servers: list[int], postmaster: int | None) -> CpuSample:
    postgres: dict[int, float] = {}
    if postmaster is not None:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                parent, used = _process_cpu(int(entry.name))
                if parent == postmaster or int(entry.name) == postmaster:
                    postgres[int(entry.name)] = used
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    idle, total = _machine()
    return CpuSample(
        sum(_process_cpu(pid)[1] for pid in servers),
        postgres,
        children.ru_utime + children.ru_stime,
        idle,
        total,
    )


@dataclass
class CpuUse:
    """Where the CPU went during a run: seconds per process group, and the machine's idle."""

    seconds: float  # of the run (wall clock)
    cores: float  # CPU seconds the machine had: cores × seconds
    idle: float
    uvicorn: float
    postgres: float
    wrk: float

    @property
    def other(self) -> float:
        """Busy, but not ours: the benchmark itself, the kernel, the machine's other work."""
        return self.cores - self.idle - self.uvicorn - self.postgres - self.wrk

    def line(self, activities: float) -> str:
        """Idle share and CPU milliseconds per 1,000 activities stored, by process group."""
        per = 1_000_000 / max(activities, 1.0)  # ms per 1,000 activities
        return (
            f"idle {self.idle / self.cores:4.0%} of {self.cores / self.seconds:.0f} cores; CPU ms "
            f"per 1,000 activities: uvicorn {self.uvicorn * per:5.1f}, PostgreSQL "
            f"{self.postgres * per:5.1f}, wrk {self.wrk * per:5.1f}, other {self.other * per:5.1f}"
        )


def cpu_between(before: CpuSample, after: CpuSample, seconds: float) -> CpuUse:
    return CpuUse(
        seconds,
        after.total - before.total,
        after.idle - before.idle,
        after.uvicorn - before.uvicorn,
        sum(used - before.postgres.get(pid, 0.0) for pid, used in after.postgres.items()),
        after.wrk - before.wrk,
    )


@dataclass
class BulkRun:
    """Activities/s stored in one run of the headless bulk load, and where the CPU went."""

    rate: float
    cpu: CpuUse


def stored_per_second(
    bases: list[str], script: str, connections: int, seconds: int, postmaster: int | None
) -> BulkRun:
    """Activities/s the processes behind ``bases`` stored while wrk drove each of them."""
    url = "/Kentico.Tracking/activities"
    each = max(1, connections // len(bases))
    servers = [pid_of(base) for base in bases]
    with ThreadPoolExecutor(max_workers=len(bases)) as pool:
        list(pool.map(lambda b: wrk(b + url, connections=each, seconds=2, lua=script), bases))
        before = [get_json(f"{base}/stats") for base in bases]
        cpu_before, started = sample_cpu(servers, postmaster), time.perf_counter()
        loads = list(
            pool.map(lambda b: wrk(b + url, connections=each, seconds=seconds, lua=script), bases)
        )
        elapsed = time.perf_counter() - started
        cpu = cpu_between(cpu_before, sample_cpu(servers, postmaster), elapsed)
        after = [get_json(f"{base}/stats") for base in bases]
    assert all(load.non_2xx == 0 for load in loads), loads
    stored = sum(a["activities"] - b["activities"] for a, b in zip(after, before, strict=True))  # type: ignore[index]
    return BulkRun(float(stored) / seconds, cpu)


@contextlib.contextmanager
def locked(path: str | None) -> Iterator[None]:
    """Hold an exclusive flock on ``path`` (nothing when None)."""
    if path is None:
        yield
        return
    with open(path, "a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        yield  # closing the file lets go of the lock


def bulk(database: str, token: str, contacts: list[str], args: argparse.Namespace) -> list[BulkRun]:
    """Headless bulk activities/s with one process, then with two."""
    env = {"KXT_BENCH_DATABASE": database}
    script = bulk_lua(token, contacts)
    postmaster = asyncio.run(_postmaster(database)) if database.startswith("postgres") else None
    with uvicorn("tracked", env) as base:
        one = stored_per_second([base], script, args.connections, args.seconds, postmaster)
    with uvicorn("tracked", env) as first, uvicorn("tracked", env) as second:
        two = stored_per_second([first, second], script, args.connections, args.seconds, postmaster)
    return [one, two]


BASELINE = "bare app, plain route (baseline)"


@dataclass
class RouteRun:
    """What wrk measured on a route in one round, and where the CPU went meanwhile."""

    load: Load
    cpu: CpuUse

    def cpu_line(self) -> str:
        """CPU microseconds per request: the server's uvicorn process, PostgreSQL, wrk."""
        per = 1_000_000 / max(self.load.requests_per_second * self.cpu.seconds, 1.0)
        return (
            f"{'':<44} idle {self.cpu.idle / self.cpu.cores:4.0%}; CPU µs per request: uvicorn "
            f"{self.cpu.uvicorn * per:4.0f}, PostgreSQL {self.cpu.postgres * per:4.0f}, "
            f"wrk {self.cpu.wrk * per:4.0f}, other {self.cpu.other * per:4.0f}"
        )


def log_routes(
    databases: dict[str, str], seconds: int, rounds: int, postmaster: int | None
) -> dict[str, RouteRun]:
    """The bare route, then for each backend the route that logs one activity durably (and,
    on the first, the route that only builds it), 32 consenting visitors: the median round."""
    targets: dict[str, tuple[str, str | None, int]] = {}
    with contextlib.ExitStack() as servers:
        bare = servers.enter_context(uvicorn("bare", {}))
        targets[BASELINE] = (bare + "/plain", None, pid_of(bare))
        for backend, database in databases.items():
            base = servers.enter_context(uvicorn("tracked", {"KXT_BENCH_DATABASE": database}))
            script = lua_rotating_headers(visitors(base, 32))
            if len(targets) == 1:
                label = "middleware, the activity built, not stored"
                targets[label] = (f"{base}/build", script, pid_of(base))
            targets[f"{backend}, route that logs durably"] = (f"{base}/log", script, pid_of(base))
        for url, script, _ in targets.values():  # warm up
            wrk(url, connections=32, seconds=2, lua=script)
        runs: dict[str, list[RouteRun]] = {label: [] for label in targets}
        for turn in range(rounds):
            for label in list(targets)[:: 1 if turn % 2 == 0 else -1]:
                url, script, pid = targets[label]
                before, started = sample_cpu([pid], postmaster), time.perf_counter()
                load = wrk(url, connections=32, seconds=seconds, lua=script)
                cpu = cpu_between(
                    before, sample_cpu([pid], postmaster), time.perf_counter() - started
                )
                runs[label].append(RouteRun(load, cpu))
    return {
        label: sorted(measured, key=lambda run: run.load.requests_per_second)[len(measured) // 2]
        for label, measured in runs.items()
    }


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", help="a server of yours (default: a throwaway one)")
    parser.add_argument("--rounds", type=int, default=3, help="of the log route (median)")
    parser.add_argument(
        "--postgres-only", action="store_true", help="without the SQLite figures beside"
    )
    parser.add_argument(
        "--lock",
        help="a file to flock during each phase (one backend's bulk runs, the log routes), so "
        "a machine's other benchmarks take turns with each phase, not with the whole run",
    )
    args = parser.parse_args()
    use_uvicorn(args.uvicorn)
    rates: dict[str, list[BulkRun]] = {}
    with tempfile.TemporaryDirectory() as folder, postgres(args.postgres_url) as url:
        databases = {"PostgreSQL": url}
        if not args.postgres_only:
            databases["SQLite"] = f"{folder}/bench.sqlite3"
        for backend, database in databases.items():
            with locked(args.lock):
                token, contacts, _ = asyncio.run(prepare(database, args.prefill, args.contacts))  # type: ignore[arg-type]
                rates[backend] = bulk(database, token, contacts, args)
        with locked(args.lock):
            routes = log_routes(databases, args.seconds, args.rounds, asyncio.run(_postmaster(url)))
    print(f"\nheadless bulk, {args.connections} connections in all, 100 activities per request,")
    print(f"databases prefilled with {args.prefill:,} activities; {args.seconds} s per run")
    for backend, (one, two) in rates.items():
        print(
            f"{backend:<11} 1 process {one.rate:9,.0f} activities/s   2 processes {two.rate:9,.0f} "
            f"activities/s   2 ÷ 1 = {two.rate / one.rate:.2f}"
        )
        for label, run in (("1 process", one), ("2 processes", two)):
            print(f"{'':<11} {label:<11} {run.cpu.line(run.rate * run.cpu.seconds)}")
        # At the one process's CPU per activity, the idle CPU is all a second process can add
        # (unless it takes CPU from the machine's other work): a ceiling on 2 ÷ 1.
        ours = one.cpu.uvicorn + one.cpu.postgres + one.cpu.wrk
        print(
            f"{'':<11} ceiling at the 1-process CPU per activity: 1 + idle ÷ ours = "
            f"{1 + one.cpu.idle / max(ours, 0.01):.2f}"
        )
    print(
        "\nserver route that logs one activity durably, 32 keep-alive visitors; "
        f"median of {args.rounds} rounds of {args.seconds} s"
    )
    for label, run in routes.items():
        print(ratio_line(label, run.load, routes[BASELINE].load))
        print(run.cpu_line())


if __name__ == "__main__":
    main()
