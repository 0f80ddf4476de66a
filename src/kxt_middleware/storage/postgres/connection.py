"""Connecting to PostgreSQL: the URL and its options, the read pool, the writer's connection,
and the driver's errors as the seam's."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

import asyncpg

from ...errors import StoreError

# Options of the store itself, given as query parameters of the URL (the rest of the query is
# asyncpg's: sslmode, or PostgreSQL settings such as application_name).
POOL_SIZE = "pool_size"
CONNECT_TIMEOUT = "connect_timeout"
COMMAND_TIMEOUT = "command_timeout"


@dataclass(frozen=True)
class ServerOptions:
    """Where the server is and how to connect: the URL without the store's own options."""

    dsn: str
    shown: str  # the URL without its password, for messages
    pool_size: int = 10
    connect_timeout: float = 10.0
    command_timeout: float | None = None


def parse_url(url: str) -> ServerOptions:
    """Split ``postgresql://user:password@host:port/name?pool_size=…`` into the driver's URL
    and the store's options; ValueError saying which option is wrong."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    ours = {
        key: value for key, value in query if key in (POOL_SIZE, CONNECT_TIMEOUT, COMMAND_TIMEOUT)
    }
    rest = [(key, value) for key, value in query if key not in ours]
    dsn = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(rest)))
    shown = re.sub(r"(//[^:/@]*):[^@]*@", r"\1:***@", dsn)
    if not parts.path.strip("/"):
        raise ValueError(f"{shown!r} names no database: end the URL with /name")
    options = ServerOptions(dsn, shown)
    try:
        if POOL_SIZE in ours:
            options = _replace(options, pool_size=int(ours[POOL_SIZE]))
        if CONNECT_TIMEOUT in ours:
            options = _replace(options, connect_timeout=float(ours[CONNECT_TIMEOUT]))
        if COMMAND_TIMEOUT in ours:
            options = _replace(options, command_timeout=float(ours[COMMAND_TIMEOUT]))
    except ValueError:
        raise ValueError(
            f"{shown!r}: {', '.join(f'{k}={v!r}' for k, v in ours.items())}: pool_size must be "
            "a whole number, connect_timeout and command_timeout a number of seconds"
        ) from None
    if options.pool_size < 1 or options.connect_timeout <= 0:
        raise ValueError(f"{shown!r}: pool_size must be at least 1, connect_timeout above 0")
    return options


def _replace(options: ServerOptions, **changes: Any) -> ServerOptions:
    import dataclasses

    return dataclasses.replace(options, **changes)


def cannot_connect(options: ServerOptions, error: BaseException) -> StoreError:
    """The error for a server that cannot be reached or refuses us."""
    return StoreError(
        f"cannot open the activity database {options.shown!r}: {error}; check that the server "
        "runs, that the URL's host, port, user, password and database name are right, and that "
        "the database exists"
    )


async def connect(options: ServerOptions, *, synchronous_commit: bool) -> Any:
    """One connection (the writer's); StoreError saying what to check if it fails."""
    try:
        return await asyncpg.connect(
            options.dsn,
            timeout=options.connect_timeout,
            command_timeout=options.command_timeout,
            server_settings={"synchronous_commit": "on" if synchronous_commit else "off"},
        )
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        raise cannot_connect(options, exc) from exc


async def create_pool(options: ServerOptions) -> Any:
    """The pool that reads use; StoreError saying what to check if it cannot connect."""
    try:
        return await asyncpg.create_pool(
            options.dsn,
            min_size=1,
            max_size=options.pool_size,
            timeout=options.connect_timeout,
            command_timeout=options.command_timeout,
            reset=_keep_session,
        )
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        raise cannot_connect(options, exc) from exc


async def _keep_session(connection: Any) -> None:
    """A read hands its connection back as it found it: reads set nothing for the session
    (no SET, LISTEN, session lock or cursor outside a transaction), so the pool's default
    reset query (RESET ALL and the rest) would be one more round trip per read for nothing.
    The pool still rolls back a transaction left open."""


DriverErrors = (asyncpg.PostgresError, asyncpg.InterfaceError)


def database_error(error: BaseException) -> StoreError:
    """A driver error as the seam's error."""
    failed = StoreError(f"the activity database failed: {error}")
    failed.__cause__ = error
    return failed


def affected(status: str) -> int:
    """The row count of a command's status ("INSERT 0 3", "DELETE 2", "UPDATE 1")."""
    return int(status.rsplit(" ", 1)[1])
