"""SQLite connections, each owned by one thread: a whole unit of work is one hand-over to it."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from ...errors import StoreError
from ..protocol import Synchronous

T = TypeVar("T")


def database_path(database: str | os.PathLike[str]) -> str:
    """The file path of ``database`` (a path or ``sqlite:///path``)."""
    text = os.fspath(database)
    return text.removeprefix("sqlite:///") if text.startswith("sqlite:///") else text


def connect(
    path: str, *, read_only: bool, synchronous: Synchronous, busy_timeout_ms: int
) -> sqlite3.Connection:
    """A connection with the store's settings; StoreError saying what to check if it fails."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise StoreError(
            f"cannot open the activity database {path!r}: the folder {directory!r} does not "
            "exist; create it or pass another database path"
        )
    try:
        # isolation_level=None: transactions are begun and ended explicitly, never implicitly.
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise cannot_open(path, exc) from exc
    try:
        connection.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        connection.execute("PRAGMA foreign_keys = ON")
        if read_only:
            connection.execute("PRAGMA query_only = ON")
        else:
            # WAL lets readers run beside the writer. FULL syncs the WAL on every commit so an
            # acknowledged activity survives a power cut, not only a process crash; group commit
            # spreads that one fsync over every caller waiting in the queue.
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute(f"PRAGMA synchronous = {synchronous}")
    except sqlite3.Error as exc:
        connection.close()
        raise cannot_open(path, exc) from exc
    return connection


def cannot_open(path: str, error: sqlite3.Error) -> StoreError:
    """The error for a database that SQLite refuses."""
    return StoreError(
        f"cannot open the activity database {path!r}: {error}; check that the path is an "
        "SQLite file (or a new file's name) that this process may read and write"
    )


def database_error(error: sqlite3.Error) -> StoreError:
    """A driver error as the seam's error."""
    return StoreError(f"the activity database failed: {error}")


def check_database(path: str, *, create: bool) -> None:
    """Refuse a path that cannot be the database before a store opens it (one-line errors).

    A folder, a missing file (unless ``create``), a folder that cannot be written to (for a
    command that creates the database), or an existing file that SQLite cannot read.
    """
    if os.path.isdir(path):
        raise StoreError(f"{path!r} is a folder, not a database file; check --database")
    if not os.path.exists(path) and not create:
        raise StoreError(
            f"no database at {path!r}; check --database (or $KXT_DATABASE); only commands "
            "that add something create one"
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return  # the store says which folder is missing
    if not os.path.exists(path):
        # Nothing to read yet. Never create (and remove) a file here: another process may be
        # creating the database at this very moment.
        if not os.access(folder, os.W_OK | os.X_OK):
            raise StoreError(
                f"cannot create the database {path!r}: the folder {folder!r} is not writable; "
                "check --database"
            )
        return
    try:
        connection = sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=rw", uri=True)
        try:
            connection.execute("PRAGMA schema_version").fetchone()  # reads the header
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise cannot_open(path, exc) from exc


class ConnectionThread:
    """One SQLite connection and the one thread that uses it.

    :meth:`run` sends a plain function to that thread and awaits its result, so a transaction
    of many statements costs one hand-over instead of one per statement, and the event loop
    never waits for SQLite.
    """

    def __init__(self, name: str, open_connection: Callable[[], sqlite3.Connection]) -> None:
        self._open_connection = open_connection
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._connection: sqlite3.Connection | None = None

    def _call(self, function: Callable[[sqlite3.Connection], T]) -> T:
        if self._connection is None:
            self._connection = self._open_connection()
        try:
            return function(self._connection)
        except sqlite3.Error as exc:  # nothing above the seam knows the driver's errors
            raise database_error(exc) from exc

    async def run(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``function(connection)`` in this connection's thread and return its result."""
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self._call, function
        )

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        """Close the connection and stop the thread (after the work already sent to it)."""
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._close_connection)
        finally:
            self._executor.shutdown(wait=False)
