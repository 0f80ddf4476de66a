"""Shared by the HTTP benchmarks: real uvicorn servers in their own processes, load from wrk.

Each server is a separate process (`python -m uvicorn`), so the load generator, the server and
its database threads are measured as a site runs them. wrk (a C load generator) sends the load
from yet another process; when it is missing, `apt-get install wrk` installs it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# uvicorn's own pure-Python parts (h11, asyncio's loop), or "standard": what
# `pip install 'uvicorn[standard]'` adds and production sites run (httptools, uvloop).
UVICORN_KINDS = ("plain", "standard")
_uvicorn_kind = {"kind": "plain"}


def add_uvicorn_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--uvicorn",
        choices=UVICORN_KINDS,
        default="plain",
        help="plain: h11 and asyncio's loop; standard: httptools and uvloop, as "
        "`pip install 'uvicorn[standard]'` installs them (`.venv/bin/pip install -e '.[bench]'`)",
    )


def use_uvicorn(kind: str) -> None:
    """Run the servers of this benchmark as ``kind`` (see UVICORN_KINDS)."""
    if kind == "standard":
        missing = [m for m in ("httptools", "uvloop") if importlib.util.find_spec(m) is None]
        if missing:
            sys.exit(
                f"--uvicorn standard needs {' and '.join(missing)}: "
                ".venv/bin/pip install -e '.[bench]'"
            )
    _uvicorn_kind["kind"] = kind


@contextlib.contextmanager
def uvicorn(app: str, env: dict[str, str], *, workers: int = 1) -> Iterator[str]:
    """Run ``bench_apps:<app>`` in a uvicorn process; yield its base URL; stop it (SIGTERM)."""
    port = free_port()
    parts = (
        ["--http", "httptools", "--loop", "uvloop"]
        if _uvicorn_kind["kind"] == "standard"
        else ["--http", "h11", "--loop", "asyncio"]
    )
    command = [
        sys.executable, "-m", "uvicorn", f"bench_apps:{app}", "--app-dir", str(HERE),
        "--port", str(port), "--no-access-log", "--log-level", "warning", *parts,
    ]  # fmt: skip
    if workers > 1:
        command += ["--workers", str(workers)]
    process = subprocess.Popen(command, env={**os.environ, **env})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/ready", timeout=1).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"uvicorn {app} did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def pid_of(base: str) -> int:
    """The process id of the server at ``base`` (its /ready route answers it)."""
    with urllib.request.urlopen(f"{base}/ready", timeout=5) as answer:
        return int(answer.read())


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) the threads of ``pid`` have used: the event loop's (the
    process's first thread) and all the others' together. Linux only: empty elsewhere."""
    used: dict[str, float] = {}
    tasks = Path(f"/proc/{pid}/task")
    if not tasks.is_dir():
        return used
    ticks = os.sysconf("SC_CLK_TCK")
    for task in sorted(tasks.iterdir(), key=lambda path: int(path.name)):
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        name = "event loop" if task.name == str(pid) else "other threads (writer, readers)"
        used[name] = used.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return used


def writer_process_cpu(pid: int) -> float:
    """CPU seconds used by the child processes of ``pid`` (the SQLite writer process). Linux."""
    used = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return used
    for child in children:
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used += (int(fields[11]) + int(fields[12])) / ticks
    return used


def machine_cpu() -> tuple[float, float]:
    """(busy, idle) CPU seconds of the whole machine since boot, all cores (Linux)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / ticks, idle / ticks


def get_json(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> object:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


@dataclass(frozen=True)
class Load:
    """What wrk measured."""

    requests_per_second: float
    latency_p50_ms: float
    latency_p99_ms: float
    non_2xx: int
    errors: int


def median_load(loads: list[Load]) -> Load:
    """The median of several rounds' rates and latencies (errors summed)."""
    return Load(
        statistics.median(load.requests_per_second for load in loads),
        statistics.median(load.latency_p50_ms for load in loads),
        statistics.median(load.latency_p99_ms for load in loads),
        sum(load.non_2xx for load in loads),
        sum(load.errors for load in loads),
    )


def wrk(
    url: str,
    *,
    connections: int,
    seconds: int,
    threads: int = 2,
    lua: str | None = None,
    transcript: list[str] | None = None,
) -> Load:
    """Drive ``url`` with wrk; ``lua`` is a wrk script (request(), headers, bodies). When the
    script has its own done(), it must print the latency line itself (LATENCY_LINE)."""
    binary = shutil.which("wrk")
    if binary is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        has_done = lua is not None and "done = function" in lua
        script.write((lua or "") + ("" if has_done else LATENCY_REPORT))
    try:
        output = subprocess.run(
            [binary, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
             "--latency", "-s", script.name, url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    if transcript is not None:
        transcript.append(output)
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    report = re.search(r"KXT (\{.*\})", output)
    if found is None or report is None:
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    numbers = json.loads(report.group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return Load(
        float(found.group(1)),
        numbers["p50"] / 1000,
        numbers["p99"] / 1000,
        int(non_2xx.group(1)) if non_2xx else 0,
        sum(int(n) for n in errors.groups()) if errors else 0,
    )


LATENCY_LINE = """
  io.write(string.format('KXT {"p50": %d, "p99": %d}\\n',
    latency:percentile(50), latency:percentile(99)))
"""
LATENCY_REPORT = "\ndone = function(summary, latency, requests)" + LATENCY_LINE + "end\n"


def lua_rotating_headers(
    header_sets: list[dict[str, str]], method: str = "GET", body: str = ""
) -> str:
    """A wrk script whose requests take turns with ``header_sets`` (one per visitor)."""
    entries = ",\n".join(
        "{" + ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()) + "}"
        for headers in header_sets
    )
    return f"""
local sets = {{
{entries}
}}
local n = 0
local body = {json.dumps(body)}
request = function()
  n = n + 1
  return wrk.format({json.dumps(method)}, nil, sets[(n % #sets) + 1], body ~= "" and body or nil)
end
"""


def ratio_line(label: str, measured: Load, baseline: Load) -> str:
    return (
        f"{label:<44} {measured.requests_per_second:9,.0f} req/s  "
        f"p50 {measured.latency_p50_ms:6.2f} ms  p99 {measured.latency_p99_ms:6.2f} ms  "
        f"ratio {measured.requests_per_second / baseline.requests_per_second:5.2f}"
        + (f"  non-2xx {measured.non_2xx}" if measured.non_2xx else "")
        + (f"  socket errors {measured.errors}" if measured.errors else "")
    )
