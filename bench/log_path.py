"""Where a logging request's time goes on the event loop: routes that do more and more of it.

One uvicorn server (the benchmarks' ``tracked`` app) and 32 consenting visitors, driven by wrk
one route at a time, the routes taking turns for several rounds. For each route: req/s and
the CPU time per request of the event loop's thread (and of the other threads), medians of the
rounds, and the extra event-loop CPU against the plain route of the same run:

- ``/plain``: does not track (the floor);
- ``/whoami``: reads the visitor's cookies and contact;
- ``/build``: also builds the activity as ``log()`` would, and stores nothing;
- ``/handoff``: waits for a thread that fsyncs once per batch (no cookies, no database);
- ``/log``: logs the activity durably.

Rerun: `.venv/bin/python bench/log_path.py [--rounds 3] [--seconds 3]`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from durable_log import visitors
from servers import lua_rotating_headers, pid_of, thread_cpu, uvicorn, wrk

ROUTES = ("/plain", "/whoami", "/build", "/handoff", "/log")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {route: [] for route in ROUTES}
    loop_cpu: dict[str, list[float]] = {route: [] for route in ROUTES}
    other_cpu: dict[str, list[float]] = {route: [] for route in ROUTES}
    with tempfile.TemporaryDirectory() as folder:
        env = {"KXT_BENCH_DATABASE": str(Path(folder) / "bench.sqlite3")}
        with uvicorn("tracked", env) as base:
            script = lua_rotating_headers(visitors(base, args.connections))
            pid = pid_of(base)
            wrk(f"{base}/plain", connections=args.connections, seconds=2, lua=script)  # warm up
            for _ in range(args.rounds):
                for route in ROUTES:
                    before = thread_cpu(pid)
                    load = wrk(
                        f"{base}{route}",
                        connections=args.connections,
                        seconds=args.seconds,
                        lua=script,
                    )
                    after = thread_cpu(pid)
                    requests = load.requests_per_second * args.seconds
                    spent = {name: after[name] - before.get(name, 0.0) for name in after}
                    rates[route].append(load.requests_per_second)
                    loop_cpu[route].append(spent.get("event loop", 0.0) / requests * 1e6)
                    other = sum(v for name, v in spent.items() if name != "event loop")
                    other_cpu[route].append(other / requests * 1e6)
    floor = statistics.median(loop_cpu["/plain"])
    print(
        f"{args.connections} keep-alive connections, {args.rounds} rounds of {args.seconds} s "
        "per route, medians; CPU µs per request"
    )
    for route in ROUTES:
        loop = statistics.median(loop_cpu[route])
        print(
            f"{route:<9} {statistics.median(rates[route]):8,.0f} req/s   event loop "
            f"{loop:5.0f} µs ({loop - floor:+4.0f} against /plain)   other threads "
            f"{statistics.median(other_cpu[route]):4.0f} µs"
        )


if __name__ == "__main__":
    main()
