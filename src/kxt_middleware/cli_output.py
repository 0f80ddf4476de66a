"""What long ``kxt`` commands write: exports on stdout, a progress bar on a terminal's stderr."""

from __future__ import annotations

import csv
import json.encoder
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from tqdm import tqdm

from .activities import EXPORT_FIELDS, ActivityRecord

# json.dumps(record, ensure_ascii=False) of Activity.to_json(), written out: the same bytes,
# with each string escaped by the json module's own C escaper.
_escape: Any = json.encoder.encode_basestring
_JSONL = "{" + ", ".join(f'"{name}": %s' for name in EXPORT_FIELDS) + "}\n"


def jsonl_lines(records: Iterable[ActivityRecord]) -> str:
    """One JSON object per record and line, as ``json.dumps(activity.to_json())`` writes it."""
    escape = _escape
    return "".join(
        _JSONL
        % (
            escape(r[0]), escape(r[1]), escape(r[2]), escape(r[3]), escape(r[4]),
            escape(r[5]), escape(r[6]), escape(r[7]),
            "null" if r[8] is None else escape(r[8]), escape(r[9]),
        )
        for r in records
    )  # fmt: skip


class Export:
    """Writes pages of records to ``out`` as jsonl or csv (a header row first)."""

    def __init__(self, out: TextIO, format: str) -> None:
        self._out = out
        self._csv = csv.writer(out, lineterminator="\n") if format == "csv" else None
        if self._csv is not None:
            self._csv.writerow(EXPORT_FIELDS)

    def write(self, records: list[ActivityRecord]) -> None:
        """Write one page of records."""
        if self._csv is not None:
            self._csv.writerows(records)
        else:
            self._out.write(jsonl_lines(records))


def progress_bar(description: str, total: int | None, unit: str, *, quiet: bool) -> tqdm[Any]:
    """A progress bar (count, rate, time left) on stderr when it is a terminal; otherwise (a
    pipe, a log file, cron, CI) or with ``--quiet``, one that prints nothing."""
    shown = not quiet and sys.stderr.isatty()
    return tqdm(
        total=total,
        desc=description,
        unit=unit,
        unit_scale=True,
        file=sys.stderr,
        disable=not shown,
        dynamic_ncols=True,
        leave=False,
    )


def interrupted(what: str) -> None:
    """Say on stderr how far an interrupted command got."""
    sys.stderr.write(f"kxt: interrupted: {what}\n")
