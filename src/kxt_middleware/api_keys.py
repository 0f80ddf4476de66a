"""Tracking API keys: each bound to one channel, shown once, stored hashed, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from .activities import format_time, parse_time
from .activity_types import validate_code_name
from .errors import KxtError
from .store import ActivityStore

_PREFIX = "kxt"


class UnknownApiKeyError(KxtError, LookupError):
    """Raised when an API key id that does not exist is revoked."""


@dataclass(frozen=True)
class Channel:
    """A headless channel (an app, a front end) that tracks through the API."""

    guid: uuid.UUID
    name: str


@dataclass(frozen=True)
class ApiKey:
    """An API key as listed: its public id, channel, and when it was created or revoked."""

    key_id: str
    channel: Channel
    created: datetime
    revoked: datetime | None


def _digest(secret: str) -> str:
    # The secret is 256 random bits, so one SHA-256 is enough (no password stretching needed).
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


async def create_api_key(store: ActivityStore, channel_name: str) -> tuple[str, ApiKey]:
    """Create a key for the channel (creating the channel if new); return (token, key).

    The token is shown only here: only its hash is stored.
    """
    validate_code_name(channel_name)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    now = store.clock()

    async def create(connection: aiosqlite.Connection) -> Channel:
        stamp = format_time(now)
        await connection.execute(
            "INSERT INTO channels (guid, name, created) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO NOTHING",
            (str(uuid.uuid4()), channel_name, stamp),
        )
        async with connection.execute(
            "SELECT id, guid, name FROM channels WHERE name = ?", (channel_name,)
        ) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        await connection.execute(
            "INSERT INTO api_keys (channel_id, key_id, secret_hash, created) VALUES (?, ?, ?, ?)",
            (row[0], key_id, _digest(secret), stamp),
        )
        return Channel(uuid.UUID(row[1]), row[2])

    channel = await store.write(create)
    return f"{_PREFIX}_{key_id}_{secret}", ApiKey(key_id, channel, now, None)


async def revoke_api_key(store: ActivityStore, key_id: str) -> None:
    """Revoke a key by its id; it stops working at once."""

    async def revoke(connection: aiosqlite.Connection) -> None:
        cursor = await connection.execute(
            "UPDATE api_keys SET revoked = ? WHERE key_id = ? AND revoked IS NULL",
            (format_time(store.clock()), key_id),
        )
        if cursor.rowcount == 0:
            raise UnknownApiKeyError(
                f"there is no active API key {key_id!r}; list them with `kxt apikeys list`"
            )

    await store.write(revoke)


async def api_keys(store: ActivityStore) -> list[ApiKey]:
    """Every API key, oldest first."""
    connection = await store.read_connection()
    async with connection.execute(
        "SELECT k.key_id, c.guid, c.name, k.created, k.revoked FROM api_keys k "
        "JOIN channels c ON c.id = k.channel_id ORDER BY k.id"
    ) as cursor:
        return [
            ApiKey(
                row[0],
                Channel(uuid.UUID(row[1]), row[2]),
                parse_time(row[3]),
                parse_time(row[4]) if row[4] else None,
            )
            async for row in cursor
        ]


async def authenticate(store: ActivityStore, token: str) -> Channel | None:
    """The channel of a valid, unrevoked token, or None."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != _PREFIX or not key_id or not secret:
        return None
    connection = await store.read_connection()
    async with connection.execute(
        "SELECT k.secret_hash, c.guid, c.name FROM api_keys k "
        "JOIN channels c ON c.id = k.channel_id WHERE k.key_id = ? AND k.revoked IS NULL",
        (key_id,),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None or not hmac.compare_digest(row[0], _digest(secret)):
        return None
    return Channel(uuid.UUID(row[1]), row[2])
