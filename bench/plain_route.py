"""What the middleware costs a route that does not track, beside Starlette's SessionMiddleware.

Three uvicorn servers run side by side, each in its own process: the bare app (the baseline,
sent the same requests as the next one), the same app behind ActivityTrackingMiddleware with a
consenting visitor's signed cookies on every request (cookie level and contact), and the same
app behind Starlette's SessionMiddleware with its signed session cookie. wrk drives one at a
time with 32 keep-alive connections. The three take turns for many short rounds (each round in
another order) and each figure is the median of its rounds: on a shared virtual machine the same
server's rate moves by a third from one round to the next, and taking turns spreads that over
all three. The paired ratio divides each round's rate by the baseline's rate of the same round
(seconds apart, so both met the same machine) and takes the median of those quotients.
Rerun: `.venv/bin/python bench/plain_route.py [--seconds 3] [--rounds 9] [--connections 32]`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import statistics
import tempfile
import urllib.request
from pathlib import Path

from servers import Load, lua_rotating_headers, median_load, ratio_line, uvicorn, wrk


def cookie_header(base: str, *paths: str) -> dict[str, str]:
    """The Cookie header a browser would send after visiting ``paths`` on ``base``."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    for path in paths:
        opener.open(f"{base}{path}").read()
    if not len(jar):
        raise RuntimeError(f"{base}{paths} set no cookie")
    return {"Cookie": "; ".join(f"{c.name}={c.value}" for c in jar)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        env = {"KXT_BENCH_DATABASE": str(Path(folder) / "bench.sqlite3")}
        bare = stack.enter_context(uvicorn("bare", {}))
        tracked = stack.enter_context(uvicorn("tracked", env))
        session = stack.enter_context(uvicorn("session", {}))
        tracked_cookies = lua_rotating_headers([cookie_header(tracked, "/consent", "/log")])
        runs: dict[str, tuple[str, str | None]] = {
            # The same request as the tracked app's (its cookies too, which the bare app ignores).
            "bare app, plain route (baseline)": (bare, tracked_cookies),
            "ActivityTrackingMiddleware, with its cookies": (tracked, tracked_cookies),
            "SessionMiddleware, with its cookie": (
                session,
                lua_rotating_headers([cookie_header(session, "/login")]),
            ),
        }
        loads: dict[str, list[Load]] = {label: [] for label in runs}
        for base, lua in runs.values():  # warm up
            wrk(f"{base}/plain", connections=args.connections, seconds=2, lua=lua)
        order = list(runs.items())
        for round_number in range(args.rounds):
            # Rotate who goes first, so no server always follows the same one.
            shift = round_number % len(order)
            for label, (base, lua) in order[shift:] + order[:shift]:
                url = f"{base}/plain"
                load = wrk(url, connections=args.connections, seconds=args.seconds, lua=lua)
                loads[label].append(load)
    medians = {label: median_load(found) for label, found in loads.items()}
    baseline = medians["bare app, plain route (baseline)"]
    print(
        f"{args.connections} keep-alive connections, {args.rounds} rounds of {args.seconds} s, "
        "medians; baseline = bare app"
    )
    bare_rounds = loads["bare app, plain route (baseline)"]
    for label, load in medians.items():
        paired = statistics.median(
            found.requests_per_second / base.requests_per_second
            for found, base in zip(loads[label], bare_rounds, strict=True)
        )
        print(ratio_line(label, load, baseline) + f"  paired ratio {paired:5.2f}")
        rounds = ", ".join(f"{found.requests_per_second:,.0f}" for found in loads[label])
        print(f"{'':<44} rounds: {rounds} req/s")


if __name__ == "__main__":
    main()
