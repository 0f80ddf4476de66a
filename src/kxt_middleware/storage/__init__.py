"""Storage: one seam (:class:`Store`) and its backends; the database URL picks the backend."""

from __future__ import annotations

import os
from typing import Any

from .protocol import Store, Synchronous
from .records import GroupMember, PageCount, WriterStats

SQLITE_SCHEME = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_server_url(database: str | os.PathLike[str]) -> bool:
    """Whether ``database`` names a database server (PostgreSQL) rather than an SQLite file."""
    return os.fspath(database).startswith(POSTGRES_SCHEMES)


def backend_class(database: str | os.PathLike[str]) -> type[Store]:
    """The Store class for ``database``: PostgreSQL for ``postgresql://…``, else SQLite."""
    text = os.fspath(database)
    if is_server_url(text):
        from .postgres import PostgresStore

        return PostgresStore
    if "://" in text and not text.startswith(SQLITE_SCHEME):
        scheme = text.split("://", 1)[0]
        raise ValueError(
            f"unknown database URL scheme {scheme!r} in {text!r}: use a file path or "
            "sqlite:///path for SQLite, or postgresql://user:password@host:port/name"
        )
    from .sqlite import SQLiteStore

    return SQLiteStore


# The public name users know: ``ActivityStore("kxt.sqlite3")`` opens the SQLite backend.
ActivityStore = Store


def check_database(database: str | os.PathLike[str], *, create: bool) -> None:
    """StoreError (one line, saying what to check) when ``database`` cannot be used.

    For SQLite: a folder, a missing file unless ``create``, an unwritable folder, a file that
    is not a database. A server's database is checked when the store opens.
    """
    backend_class(database)  # an unknown scheme says so
    if not is_server_url(database):
        from .sqlite.connection import check_database as check_file
        from .sqlite.connection import database_path

        check_file(database_path(database), create=create)


def open_store(database: str | os.PathLike[str], **options: Any) -> Store:
    """A store for ``database`` (not opened yet: ``await store.open()`` or ``async with``)."""
    return backend_class(database)(database, **options)


__all__ = [
    "ActivityStore",
    "GroupMember",
    "PageCount",
    "Store",
    "Synchronous",
    "WriterStats",
    "backend_class",
    "check_database",
    "is_server_url",
    "open_store",
]
