"""Operators: the people who sign in to the admin, with argon2-hashed passwords."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiosqlite

from .activities import format_time
from .errors import KxtError
from .store import ActivityStore

if TYPE_CHECKING:
    from argon2 import PasswordHasher

NAME_MAX = 100
_NAME = re.compile(r"[A-Za-z0-9_.@+\-]+")
PASSWORD_MIN = 10
PASSWORD_MAX = 1024


class UnknownOperatorError(KxtError, LookupError):
    """Raised when an operator that does not exist is changed."""


@dataclass(frozen=True)
class Operator:
    """Someone allowed to sign in to the admin."""

    name: str
    created: str


def _hasher() -> PasswordHasher:
    try:
        from argon2 import PasswordHasher
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise KxtError(
            "operator passwords need argon2-cffi: pip install 'kxt-middleware[admin]'"
        ) from None
    return PasswordHasher()


def check_operator_name(name: str) -> str:
    """Return ``name`` if it is a valid operator name; ValueError saying the rule otherwise."""
    if not 1 <= len(name) <= NAME_MAX or not _NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a valid operator name: use 1 to {NAME_MAX} letters A-Z, digits, "
            "'_', '.', '@', '+' or '-' (for example 'jane' or 'jane@example.org')"
        )
    return name


def check_password(password: str) -> str:
    """Return ``password`` if it is long enough; ValueError saying the rule otherwise."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise ValueError(
            f"a password needs {PASSWORD_MIN} to {PASSWORD_MAX} characters; "
            f"this one has {len(password)}"
        )
    return password


async def create_operator(store: ActivityStore, name: str, password: str) -> Operator:
    """Create an operator; ValueError if the name is taken or the password too short."""
    check_operator_name(name)
    check_password(password)
    password_hash = await asyncio.to_thread(_hasher().hash, password)
    stamp = format_time(store.clock())

    async def add(connection: aiosqlite.Connection) -> None:
        cursor = await connection.execute(
            "INSERT INTO operators (name, password_hash, created) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO NOTHING",
            (name, password_hash, stamp),
        )
        if cursor.rowcount == 0:
            raise ValueError(
                f"an operator named {name!r} already exists; choose another name or "
                f"change the password with `kxt users password {name}`"
            )

    await store.write(add)
    return Operator(name, stamp)


async def set_operator_password(store: ActivityStore, name: str, password: str) -> None:
    """Give an operator a new password."""
    check_password(password)
    password_hash = await asyncio.to_thread(_hasher().hash, password)

    async def change(connection: aiosqlite.Connection) -> None:
        cursor = await connection.execute(
            "UPDATE operators SET password_hash = ? WHERE name = ?", (password_hash, name)
        )
        if cursor.rowcount == 0:
            raise UnknownOperatorError(
                f"there is no operator {name!r}; create one with `kxt users create {name}`"
            )

    await store.write(change)


async def delete_operator(store: ActivityStore, name: str) -> None:
    """Delete an operator (their open admin sessions end at their next request)."""

    async def delete(connection: aiosqlite.Connection) -> None:
        cursor = await connection.execute("DELETE FROM operators WHERE name = ?", (name,))
        if cursor.rowcount == 0:
            raise UnknownOperatorError(
                f"there is no operator {name!r}; list them with `kxt users list`"
            )

    await store.write(delete)


async def operators(store: ActivityStore) -> list[Operator]:
    """Every operator, by name."""
    async with (await store.read_connection()).execute(
        "SELECT name, created FROM operators ORDER BY name COLLATE NOCASE"
    ) as cursor:
        return [Operator(row[0], row[1]) async for row in cursor]


async def operator_exists(store: ActivityStore, name: str) -> bool:
    """True when an operator has this name (ignoring case)."""
    async with (await store.read_connection()).execute(
        "SELECT 1 FROM operators WHERE name = ?", (name,)
    ) as cursor:
        return await cursor.fetchone() is not None


# Verified when the name is unknown, so a wrong name costs as much time as a wrong password.
_DUMMY_HASH: list[str] = []


async def verify_operator(store: ActivityStore, name: str, password: str) -> str | None:
    """The operator's stored name if the password is right, else None (same cost either way)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = _hasher()
    async with (await store.read_connection()).execute(
        "SELECT name, password_hash FROM operators WHERE name = ?", (name,)
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        if not _DUMMY_HASH:
            _DUMMY_HASH.append(await asyncio.to_thread(hasher.hash, "not a password"))
        stored_name, stored_hash = None, _DUMMY_HASH[0]
    else:
        stored_name, stored_hash = row[0], row[1]
    try:
        await asyncio.to_thread(hasher.verify, stored_hash, password[:PASSWORD_MAX])
    except (VerificationError, InvalidHashError):
        return None
    if stored_name is not None and hasher.check_needs_rehash(stored_hash):
        await set_operator_password(store, stored_name, password)
    return stored_name
