"""The SQLite backend: one file in WAL mode, one writer (a process of its own, or a thread) that
group-commits every write."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import SQLiteStore

__all__ = ["SQLiteStore"]


def __getattr__(name: str) -> Any:
    # Imported when first asked for: the writer process imports this package's writing
    # modules only.
    if name == "SQLiteStore":
        from .store import SQLiteStore

        return SQLiteStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
