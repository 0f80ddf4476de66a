"""A server route that logs one activity durably, against a bare route: real uvicorn, wrk.

Three uvicorn servers, one at a time, each driven by wrk with 32 keep-alive connections for
the same time: the bare app (no middleware; the baseline), a plain route behind the
middleware, and a route that logs one activity for a consenting visitor (32 visitors taking
turns) with synchronous=FULL (an fsync per commit). Prints req/s, latency and each one's
ratio to the baseline, then the writer's commit latency and callers per commit. For scale it
also drives, on the same server, the floor of any durable write another thread makes: a route
that waits for a thread doing one fsync per batch and nothing else (no database).
Rerun: `.venv/bin/python bench/durable_log.py [--seconds 10] [--connections 32]`.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import tempfile
import urllib.request
from pathlib import Path

from servers import get_json, lua_rotating_headers, pid_of, ratio_line, thread_cpu, uvicorn, wrk


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    load = {"connections": args.connections, "seconds": args.seconds}
    with uvicorn("bare", {}) as base:
        wrk(f"{base}/plain", connections=args.connections, seconds=2)  # warm up
        bare = wrk(f"{base}/plain", **load)
    with tempfile.TemporaryDirectory() as folder:
        env = {"KXT_BENCH_DATABASE": str(Path(folder) / "bench.sqlite3")}
        with uvicorn("tracked", env) as base:
            cookies = visitors(base, args.connections)
            script = lua_rotating_headers(cookies)
            wrk(f"{base}/plain", connections=args.connections, seconds=2, lua=script)
            pid = pid_of(base)
            cpu_start = thread_cpu(pid)
            plain = wrk(f"{base}/plain", lua=script, **load)
            cpu_plain = thread_cpu(pid)
            before = get_json(f"{base}/stats")
            logged = wrk(f"{base}/log", lua=script, **load)
            after = get_json(f"{base}/stats")
            cpu_logged = thread_cpu(pid)
            floor = wrk(f"{base}/handoff", lua=script, **load)
    assert isinstance(before, dict) and isinstance(after, dict)
    print(f"{args.connections} keep-alive connections, {args.seconds} s each; baseline = bare app")
    print(ratio_line("bare app, plain route (baseline)", bare, bare))
    print(ratio_line("middleware, plain route with cookies", plain, bare))
    print(ratio_line("middleware, route that logs durably", logged, bare))
    print(ratio_line("floor: waits for a thread's fsync, no database", floor, bare))
    commits = after["commits"] - before["commits"]
    callers = after["callers"] - before["callers"]
    print(
        f"writer: {commits:,} commits of {callers:,} callers ({callers / max(commits, 1):.1f} "
        f"per commit); commit latency over the run p50 {after['commit_ms_p50']:.2f} ms, "
        f"p99 {after['commit_ms_p99']:.2f} ms"
    )
    # Where the CPU goes: per request, by thread (the event loop's, the writer's).
    for label, measured, start, end in (
        ("plain route", plain, cpu_start, cpu_plain),
        ("logging route", logged, cpu_plain, cpu_logged),
    ):
        requests = measured.requests_per_second * args.seconds
        spent = {name: end[name] - start.get(name, 0.0) for name in end}
        print(
            f"CPU per request, {label}: "
            + ", ".join(
                f"{name} {seconds / requests * 1e6:.0f} µs"
                for name, seconds in spent.items()
                if seconds / requests * 1e6 >= 1
            )
        )


if __name__ == "__main__":
    main()
