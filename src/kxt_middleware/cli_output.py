"""What long ``kxt`` commands write: exports on stdout, a progress bar on a terminal's stderr."""

from __future__ import annotations

import codecs
import os
import signal
import sys
from collections.abc import Callable
from typing import Any, TextIO

from tqdm import tqdm

MAX_EXPORT_PROCESSES = 4  # beyond this, writing the output is what takes the time


def export_processes() -> int:
    """How many processes an export may format in: the CPUs this process may run on (one
    where Ctrl+C cannot be held back from them while they start: no POSIX signal masks)."""
    if not hasattr(signal, "pthread_sigmask"):
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cpus or 1, MAX_EXPORT_PROCESSES))


def byte_writer(out: TextIO) -> Callable[[bytes], Any]:
    """Writes UTF-8 bytes to ``out``: straight to its binary buffer when it has one that takes
    UTF-8 (stdout), otherwise decoded, as text."""
    buffer = getattr(out, "buffer", None)
    encoding = getattr(out, "encoding", None) or "ascii"
    if buffer is not None and codecs.lookup(encoding).name == "utf-8":
        out.flush()  # what was written as text comes first
        return buffer.write  # type: ignore[no-any-return]
    return lambda data: out.write(data.decode("utf-8"))


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
