"""Graceful overload: 500 clients hammer a logging route of a server with max_pending=200.

One uvicorn process serves the tracked app with a write queue of 200. wrk drives the route
that logs durably with 500 keep-alive connections (500 consenting visitors taking turns) for
10 s; at the same time a second wrk, 4 connections, measures a plain route of the same server.
Printed: how many logging requests were accepted (200) and refused (503), whether every 503
carried Retry-After, the plain route's latency beside its latency on an idle server (the
baseline, same run), the server's memory before, at its peak and after, and whether the
activities stored equal the requests the server answered "logged" (wrk itself stops reading
when its time is up, so it sees a few hundred answers fewer).
Rerun: `.venv/bin/python bench/overload.py [--seconds 10] [--clients 500] [--max-pending 200]`.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
import threading
from pathlib import Path

from durable_log import visitors
from servers import LATENCY_LINE, Load, get_json, lua_rotating_headers, uvicorn, wrk

from kxt_middleware.storage import open_store

COUNTING = (
    """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; refused = 0; no_retry_after = 0; other = 0 end
function response(status, headers, body)
  if status == 200 then ok = ok + 1
  elseif status == 503 then
    refused = refused + 1
    if headers["retry-after"] == nil and headers["Retry-After"] == nil then
      no_retry_after = no_retry_after + 1
    end
  else other = other + 1 end
end
done = function(summary, latency, requests)
  local t = {0, 0, 0, 0}
  for _, thread in ipairs(threads) do
    t[1] = t[1] + thread:get("ok"); t[2] = t[2] + thread:get("refused")
    t[3] = t[3] + thread:get("no_retry_after"); t[4] = t[4] + thread:get("other")
  end
  io.write(string.format("COUNTS %d %d %d %d\\n", t[1], t[2], t[3], t[4]))
"""
    + LATENCY_LINE
    + "end\n"
)


def memory(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of the process in MB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--max-pending", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "bench.sqlite3"
        env = {"KXT_BENCH_DATABASE": str(database), "KXT_BENCH_MAX_PENDING": str(args.max_pending)}
        with uvicorn("tracked", env) as base:
            pid = int(subprocess.check_output(["pgrep", "-f", "bench_apps:tracked"]).split()[0])
            cookies = visitors(base, args.clients)
            idle = wrk(f"{base}/plain", connections=4, seconds=3, threads=1)
            before, _ = memory(pid)
            plain: list[Load] = []
            side = threading.Thread(
                target=lambda: plain.append(
                    wrk(f"{base}/plain", connections=4, seconds=args.seconds, threads=1)
                )
            )
            transcript: list[str] = []
            side.start()
            load = wrk(
                f"{base}/log",
                connections=args.clients,
                seconds=args.seconds,
                lua=lua_rotating_headers(cookies) + COUNTING,
                transcript=transcript,
            )
            side.join()
            answered = get_json(f"{base}/stats")
            after, peak = memory(pid)
        accepted, refused, no_retry, other = (
            int(n) for n in transcript[0].split("COUNTS ")[1].split()[:4]
        )

        async def count() -> int:
            async with open_store(database) as store:
                return await store.count_activities()

        stored = asyncio.run(count()) - args.clients  # each visitor logged once to start
    print(
        f"{args.clients} clients, {args.seconds} s, max_pending={args.max_pending}: "
        f"{accepted:,} logged (200), {refused:,} refused (503), {other} other answers, "
        f"{load.errors} socket errors"
    )
    print(f"503 answers without Retry-After: {no_retry}")
    print(
        f"plain route meanwhile: p50 {plain[0].latency_p50_ms:.2f} ms, p99 "
        f"{plain[0].latency_p99_ms:.2f} ms, {plain[0].requests_per_second:,.0f} req/s "
        f"(idle server: p50 {idle.latency_p50_ms:.2f} ms, p99 {idle.latency_p99_ms:.2f} ms)"
    )
    print(
        f"server memory: {before:.0f} MB before, peak {peak:.0f} MB, {after:.0f} MB after "
        f"(growth {peak - before:.0f} MB)"
    )
    assert isinstance(answered, dict)
    logged = answered["answered_logged"] - args.clients
    print(
        f"stored {stored:,}; answered 'logged' by the server {logged:,}: "
        f"{'equal' if stored == logged else 'DIFFERENT'} (wrk saw {accepted:,} of those answers: "
        "it stops reading when its time is up, with requests still in flight)"
    )


if __name__ == "__main__":
    main()
