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


def _csv_written(records: Iterable[Sequence[str | None]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(records)
    return buffer.getvalue()


# The characters that make the csv module quote a value (a comma, a quote, a line break: what
# this Python's csv writes, asked once); a record without any is its values joined by commas.
_CSV_QUOTED = "".join(
    c for c in map(chr, [*range(128), 0x85, 0x2028, 0x2029]) if _csv_written([[c, ""]]) != c + ",\n"
)
_CSV_QUOTED_IN_A_LINE = _CSV_QUOTED.replace(",", "")  # commas are counted
_CSV_QUOTED_IN_LINES = _CSV_QUOTED_IN_A_LINE.replace("\n", "")  # line breaks too


def csv_rows(records: Sequence[Sequence[str | None]]) -> str:
    """CSV records as the csv module writes them (RFC 4180: a value with a comma, a quote or a
    line break is quoted; None is empty), one per line ending in ``\\n``.

    The records without such values, nearly all, are joined in C; the others are written by
    the csv module itself.
    """
    if not records or len(records[0]) < 2:
        return _csv_written(records)
    try:
        lines = list(map(",".join, records))  # type: ignore[arg-type]
    except TypeError:  # a None: the csv module writes it as an empty value
        return _csv_written(records)
    text = "\n".join(lines)
    separators = len(records[0]) - 1
    if (
        text.count(",") != separators * len(lines)
        or text.count("\n") != len(lines) - 1
        or any(c in text for c in _CSV_QUOTED_IN_LINES)
    ):
        for n, line in enumerate(lines):
            if line.count(",") != separators or any(c in line for c in _CSV_QUOTED_IN_A_LINE):
                lines[n] = _csv_written([records[n]])[:-1]
        text = "\n".join(lines)
    return text + "\n"


def export_header(format: ExportFormat) -> bytes:
    """What an export starts with: the CSV header row; nothing for JSON lines."""
    return csv_rows([EXPORT_FIELDS]).encode() if format == "csv" else b""


def export_bytes(records: Sequence[ActivityRecord], format: ExportFormat) -> bytes:
    """The records as ``format`` (without the CSV header), encoded in UTF-8."""
    text = csv_rows(records) if format == "csv" else jsonl_lines(records)
    return text.encode("utf-8")
