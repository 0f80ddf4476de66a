"""The PostgreSQL backend: many processes on many hosts share one server; each process
group-commits its writes on one connection and reads through a pool (asyncpg)."""

try:
    import asyncpg  # noqa: F401
except ImportError as exc:  # pragma: no cover - the test environment installs it
    raise ImportError(
        "a postgresql:// database needs the asyncpg driver: pip install 'kxt-middleware[postgres]'"
    ) from exc

from .store import PostgresStore

__all__ = ["PostgresStore"]
