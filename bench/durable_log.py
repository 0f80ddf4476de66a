"""A server route that logs one activity durably, against a bare route: real uvicorn, wrk.

Servers run side by side, each its own uvicorn process: the bare app (no middleware; the
baseline), the app behind the middleware with the SQLite store's default writer (a process of
its own), and the same app with writer="thread". wrk drives one at a time with 32 keep-alive
connections of 32 consenting visitors, taking turns for several short rounds (each round in
another order): on a shared virtual machine a server's rate moves by a third from one round to
the next, and taking turns spreads that over all. Each run's figure is the median of its
rounds; its paired ratio divides each round's rate by the bare app's rate of the same round.
synchronous=FULL (an fsync per commit) throughout.

Also printed: the writer's commits (callers per commit, commit latency), the CPU each request
costs the event loop and the writer, and the whole machine's CPU per request and idle share:
when the bare run already leaves no core idle, a route can be at most as fast as the machine
CPU per request of the bare route over its own. For scale, the floors of any durable write
another thread or process makes: routes that wait for a thread, or for a process, doing one
fsync per batch of waiting requests and nothing else (no cookies read, no database).
Rerun: `.venv/bin/python bench/durable_log.py [--rounds 5] [--seconds 3] [--connections 32]
[--uvicorn standard]` (standard: httptools and uvloop, `.venv/bin/pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import statistics
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from servers import (
    Load,
    add_uvicorn_option,
    get_json,
    lua_rotating_headers,
    machine_cpu,
    median_load,
    pid_of,
    ratio_line,
    thread_cpu,
    use_uvicorn,
    uvicorn,
    writer_process_cpu,
    wrk,
)


def visitors(base: str, count: int) -> list[dict[str, str]]:
    """``count`` consenting visitors, each as the Cookie header of its own contact."""
    headers = []
    for _ in range(count):
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        opener.open(f"{base}/consent").read()
        opener.open(f"{base}/log").read()  # creates the contact and its cookie
        headers.append({"Cookie": "; ".join(f"{c.name}={c.value}" for c in jar)})
    return headers


@dataclass
class Run:
    """One route of one server, and what its rounds measured."""

    base: str
    route: str
    lua: str | None
    loads: list[Load] = field(default_factory=list)
    requests: float = 0.0
    loop_cpu: float = 0.0  # seconds, over all rounds
    writer_cpu: float = 0.0
    machine_busy: float = 0.0
    machine_idle: float = 0.0
    commits: int = 0
    callers: int = 0


def measure(run: Run, connections: int, seconds: int) -> None:
    pid = pid_of(run.base)
    loop_before, writer_before = thread_cpu(pid), writer_process_cpu(pid)
    busy_before, idle_before = machine_cpu()
    stats_before = get_json(f"{run.base}/stats") if run.route == "/log" else None
    load = wrk(f"{run.base}{run.route}", connections=connections, seconds=seconds, lua=run.lua)
    busy_after, idle_after = machine_cpu()
    loop_after, writer_after = thread_cpu(pid), writer_process_cpu(pid)
    run.loads.append(load)
    run.requests += load.requests_per_second * seconds
    run.loop_cpu += loop_after.get("event loop", 0.0) - loop_before.get("event loop", 0.0)
    others = "other threads (writer, readers)"
    run.writer_cpu += writer_after - writer_before
    run.writer_cpu += loop_after.get(others, 0.0) - loop_before.get(others, 0.0)
    run.machine_busy += busy_after - busy_before
    run.machine_idle += idle_after - idle_before
    if isinstance(stats_before, dict):
        stats_after = get_json(f"{run.base}/stats")
        assert isinstance(stats_after, dict)
        run.commits += stats_after["commits"] - stats_before["commits"]
        run.callers += stats_after["callers"] - stats_before["callers"]


BASELINE = "bare app, plain route (baseline)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    add_uvicorn_option(parser)
    args = parser.parse_args()
    use_uvicorn(args.uvicorn)
    with contextlib.ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        bare = stack.enter_context(uvicorn("bare", {}))
        process = stack.enter_context(
            uvicorn("tracked", {"KXT_BENCH_DATABASE": str(Path(folder) / "process.sqlite3")})
        )
        thread = stack.enter_context(
            uvicorn(
                "tracked",
                {
                    "KXT_BENCH_DATABASE": str(Path(folder) / "thread.sqlite3"),
                    "KXT_BENCH_WRITER": "thread",
                },
            )
        )
        process_visitors = lua_rotating_headers(visitors(process, args.connections))
        thread_visitors = lua_rotating_headers(visitors(thread, args.connections))
        runs = {
            BASELINE: Run(bare, "/plain", process_visitors),
            "middleware, plain route with cookies": Run(process, "/plain", process_visitors),
            "logs durably, writer process (default)": Run(process, "/log", process_visitors),
            "logs durably, writer thread": Run(thread, "/log", thread_visitors),
            "floor: waits for a thread's fsync, no db": Run(process, "/handoff", process_visitors),
            "floor: a process's fsync, no db": Run(process, "/process-handoff", process_visitors),
        }
        for run in runs.values():  # warm up
            wrk(f"{run.base}{run.route}", connections=args.connections, seconds=1, lua=run.lua)
        order = list(runs.values())
        for round_number in range(args.rounds):
            shift = round_number % len(order)
            for run in order[shift:] + order[:shift]:
                measure(run, args.connections, args.seconds)
        latency = {base: get_json(f"{base}/stats") for base in (process, thread)}
    baseline = runs[BASELINE]
    print(
        f"{args.connections} keep-alive connections, {args.rounds} rounds of {args.seconds} s, "
        f"medians, uvicorn {args.uvicorn}; baseline = bare app"
    )
    for label, run in runs.items():
        paired = statistics.median(
            found.requests_per_second / base.requests_per_second
            for found, base in zip(run.loads, baseline.loads, strict=True)
        )
        line = ratio_line(label, median_load(run.loads), median_load(baseline.loads))
        print(f"{line}  paired {paired:5.2f}")
    print("CPU per request (all rounds): event loop, writer, whole machine; machine idle share")
    for label, run in runs.items():
        per = 1e6 / max(run.requests, 1)
        idle = run.machine_idle / max(run.machine_busy + run.machine_idle, 1e-9)
        print(
            f"  {label:<42} loop {run.loop_cpu * per:4.0f} µs  writer {run.writer_cpu * per:4.0f}"
            f" µs  machine {run.machine_busy * per:4.0f} µs  idle {idle:4.0%}"
        )
    bare_machine = baseline.machine_busy / max(baseline.requests, 1)
    for label, run in runs.items():
        if run.route == "/log":
            stats = latency[run.base]
            assert isinstance(stats, dict)
            ceiling = bare_machine / (run.machine_busy / max(run.requests, 1))
            print(
                f"{label}: {run.commits:,} commits of {run.callers:,} callers "
                f"({run.callers / max(run.commits, 1):.1f} per commit), commit p50 "
                f"{stats['commit_ms_p50']:.2f} ms, p99 {stats['commit_ms_p99']:.2f} ms; "
                f"machine CPU per request of bare ÷ this route {ceiling:.2f}"
            )


if __name__ == "__main__":
    main()
