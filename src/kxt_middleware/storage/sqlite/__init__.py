"""The SQLite backend: one file in WAL mode, one writer thread that group-commits every write."""

from .store import SQLiteStore

__all__ = ["SQLiteStore"]
