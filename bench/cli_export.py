"""`kxt activities` export speed on 1,000,000 activities, jsonl and csv, against one process.

Builds the database with bench/admin_activities.py's builder, then runs the real command
(`python -m kxt_middleware activities --format …`, stdout to a file, stderr not a terminal,
worker processes: as many as the CPUs, at most 4) and times it. Baselines of the same run: the
same export in one process (the page path the command took before, as a subprocess, with the
same formatter), and the object path: Store.iter_activities() -> Activity.to_json() ->
json.dumps / csv.DictWriter. All outputs are compared byte for byte. Memory: the highest sum of
the resident memory of the command and its workers, sampled every 20 ms.
Rerun: `.venv/bin/python bench/cli_export.py [--rows 1000000] [--repeat 3]` (best of the runs).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import filecmp
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from admin_activities import build

from kxt_middleware.activities import EXPORT_FIELDS
from kxt_middleware.storage import open_store


async def old_path(database: Path, output: Path, format: str) -> None:
    async with open_store(database) as store:
        with output.open("w", encoding="utf-8", newline="") as out:
            writer = None
            if format == "csv":
                writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
                writer.writeheader()
            async for activity in store.iter_activities():
                record = activity.to_json()
                if writer is not None:
                    writer.writerow(record)
                else:
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")


ONE_PROCESS = """
import asyncio, sys
from kxt_middleware.storage import open_store

async def export(database, format):
    async with open_store(database) as store:
        async for chunk in store.export_activities(format=format, processes=1):
            sys.stdout.buffer.write(chunk.data)

asyncio.run(export(sys.argv[1], sys.argv[2]))
"""


def tree_rss(pid: int) -> int:
    """Resident memory (kB) of ``pid`` and its descendants."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                total += next(int(ln.split()[1]) for ln in status if ln.startswith("VmRSS:"))
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending += [int(child) for child in children.read().split()]
        except (OSError, StopIteration):
            continue
    return total


def timed(argv: list[str], output: Path) -> tuple[float, float]:
    """Seconds of ``argv`` (stdout to ``output``) and its highest resident memory, in MB."""
    started = time.perf_counter()
    peak = 0
    with output.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE)
        while process.poll() is None:
            peak = max(peak, tree_rss(process.pid))
            time.sleep(0.02)
    took = time.perf_counter() - started
    assert process.returncode == 0, process.stderr.read()  # type: ignore[union-attr]
    process.stderr.close()  # type: ignore[union-attr]
    return took, peak / 1024


def command(database: Path, output: Path, format: str) -> tuple[float, float]:
    """Seconds and peak memory of the real `kxt activities` command."""
    return timed(
        [sys.executable, "-m", "kxt_middleware", "--database", str(database), "activities",
         "--format", format],
        output,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the best is shown")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "bench.sqlite3"
        print(f"building {args.rows:,} activities of {args.contacts:,} contacts ...")
        build(database, args.rows, args.contacts)
        for format in ("jsonl", "csv"):
            outputs = {name: Path(folder) / f"{name}.{format}" for name in ("new", "one", "old")}
            runs = []
            for _ in range(args.repeat):  # alternating, so a busy moment hits each alike
                new = command(database, outputs["new"], format)
                one = timed(
                    [sys.executable, "-c", ONE_PROCESS, str(database), format], outputs["one"]
                )
                runs.append((new, one))
            (took, peak), (alone, alone_peak) = min(r[0] for r in runs), min(r[1] for r in runs)
            started = time.perf_counter()
            asyncio.run(old_path(database, outputs["old"], format))
            baseline = time.perf_counter() - started
            same = all(
                filecmp.cmp(outputs["new"], outputs[name], shallow=False) for name in ("one", "old")
            )
            print(
                f"{format:5}: kxt activities {args.rows / took:9,.0f} rows/s ({took:5.2f} s, "
                f"peak RSS {peak:.0f} MB with its workers); one process {args.rows / alone:9,.0f} "
                f"rows/s ({alone:5.2f} s, {alone_peak:.0f} MB), {alone / took:.1f}x; object path "
                f"{args.rows / baseline:9,.0f} rows/s ({baseline:5.1f} s), {baseline / took:.1f}x; "
                f"output identical: {same}"
            )


if __name__ == "__main__":
    main()
