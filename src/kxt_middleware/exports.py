"""The bytes of an activity export, JSON lines or CSV: one formatter for every path that writes
one (``kxt activities``, its worker processes, the admin's download)."""

from __future__ import annotations

import csv
import io
import json.encoder
from collections.abc import Iterable, Sequence
from typing import Any, Literal, NamedTuple

from .activities import EXPORT_FIELDS, ActivityRecord

ExportFormat = Literal["jsonl", "csv"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("jsonl", "csv")


class ExportChunk(NamedTuple):
    """A piece of an export: its UTF-8 bytes and how many activities they hold."""

    data: bytes
    activities: int


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


def csv_rows(records: Iterable[Sequence[str | None]]) -> str:
    """CSV records as RFC 4180 quotes them (a value with a comma, a quote or a line break is
    quoted; None is empty), one per line ending in ``\\n``."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(records)
    return buffer.getvalue()


def export_header(format: ExportFormat) -> bytes:
    """What an export starts with: the CSV header row; nothing for JSON lines."""
    return csv_rows([EXPORT_FIELDS]).encode() if format == "csv" else b""


def export_bytes(records: Sequence[ActivityRecord], format: ExportFormat) -> bytes:
    """The records as ``format`` (without the CSV header), encoded in UTF-8."""
    text = csv_rows(records) if format == "csv" else jsonl_lines(records)
    return text.encode("utf-8")
