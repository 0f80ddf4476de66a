"""`kxt activities` export speed on 1,000,000 activities, jsonl and csv, against the old path.

Builds the database with bench/admin_activities.py's builder, then runs the real command
(`python -m kxt_middleware activities --format …`, stdout to a file, stderr not a terminal)
and times it; the baseline, in the same run, is the object path every page took before:
Store.iter_activities() -> Activity.to_json() -> json.dumps / csv.DictWriter. Both outputs are
compared byte for byte. Peak memory (max RSS) of the command is printed too.
Rerun: `.venv/bin/python bench/cli_export.py [--rows 1000000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import filecmp
import json
import resource
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


def command(database: Path, output: Path, format: str) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of the real `kxt activities` command."""
    started = time.perf_counter()
    with output.open("wb") as out:
        subprocess.run(
            [sys.executable, "-m", "kxt_middleware", "--database", str(database), "activities",
             "--format", format],
            stdout=out, stderr=subprocess.PIPE, check=True,
        )  # fmt: skip
    took = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return took, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "bench.sqlite3"
        print(f"building {args.rows:,} activities of {args.contacts:,} contacts ...")
        build(database, args.rows, args.contacts)
        for format in ("jsonl", "csv"):
            new, old = Path(folder) / f"new.{format}", Path(folder) / f"old.{format}"
            took, peak = command(database, new, format)
            started = time.perf_counter()
            asyncio.run(old_path(database, old, format))
            baseline = time.perf_counter() - started
            same = filecmp.cmp(new, old, shallow=False)
            print(
                f"{format:5}: kxt activities {args.rows / took:9,.0f} rows/s ({took:5.1f} s, peak "
                f"RSS {peak:.0f} MB); object path {args.rows / baseline:9,.0f} rows/s "
                f"({baseline:5.1f} s); {baseline / took:.1f}x; output identical: {same}"
            )


if __name__ == "__main__":
    main()
