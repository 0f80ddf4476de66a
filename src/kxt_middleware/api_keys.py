"""Tracking API keys: each bound to one channel, shown once, stored hashed, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from .activity_types import validate_code_name
from .errors import KxtError

if TYPE_CHECKING:
    from .storage import Store

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


async def create_api_key(store: Store, channel_name: str) -> tuple[str, ApiKey]:
    """Create a key for the channel (creating the channel if new); return (token, key).

    The token is shown only here: only its hash is stored.
    """
    validate_code_name(channel_name)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    created = store.clock()
    channel = await store.add_api_key(channel_name, key_id, _digest(secret))
    return f"{_PREFIX}_{key_id}_{secret}", ApiKey(key_id, channel, created, None)


async def revoke_api_key(store: Store, key_id: str) -> None:
    """Revoke a key by its id; it stops working at once."""
    await store.revoke_api_key(key_id)


async def restore_api_key(store: Store, key_id: str) -> None:
    """Make a revoked key work again (for a key disabled by mistake, not for one that leaked:
    create a new key for that)."""
    await store.restore_api_key(key_id)


async def api_keys(store: Store) -> list[ApiKey]:
    """Every API key, oldest first."""
    return await store.api_keys()


async def authenticate(store: Store, token: str) -> Channel | None:
    """The channel of a valid, unrevoked token, or None."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != _PREFIX or not key_id or not secret:
        return None
    found = await store.active_api_key(key_id)
    if found is None or not hmac.compare_digest(found[0], _digest(secret)):
        return None
    return found[1]
