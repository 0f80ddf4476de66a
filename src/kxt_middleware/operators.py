"""Operators: the people who sign in to the admin, with argon2-hashed passwords."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import KxtError

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from .storage import Store

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


async def create_operator(store: Store, name: str, password: str) -> Operator:
    """Create an operator; ValueError if the name is taken or the password too short."""
    check_operator_name(name)
    check_password(password)
    password_hash = await asyncio.to_thread(_hasher().hash, password)
    return await store.add_operator(name, password_hash)


async def set_operator_password(store: Store, name: str, password: str) -> None:
    """Give an operator a new password."""
    check_password(password)
    password_hash = await asyncio.to_thread(_hasher().hash, password)
    await store.set_operator_password_hash(name, password_hash)


async def delete_operator(store: Store, name: str) -> None:
    """Delete an operator (their open admin sessions end at their next request)."""
    await store.delete_operator(name)


async def operators(store: Store) -> list[Operator]:
    """Every operator, by name."""
    return await store.operators()


async def operator_exists(store: Store, name: str) -> bool:
    """True when an operator has this name (ignoring case)."""
    return await store.operator_password_hash(name) is not None


# Verified when the name is unknown, so a wrong name costs as much time as a wrong password.
_DUMMY_HASH: list[str] = []


async def verify_operator(store: Store, name: str, password: str) -> str | None:
    """The operator's stored name if the password is right, else None (same cost either way)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = _hasher()
    row = await store.operator_password_hash(name)
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
