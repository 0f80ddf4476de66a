"""SQL for what operators configure: consents, channels and API keys, sites, operators."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from ...activities import format_time
from ...api_keys import ApiKey, Channel, UnknownApiKeyError
from ...consents import Consent
from ...errors import ContactErasedError
from ...operators import Operator, UnknownOperatorError
from ...sites import Site, UnknownSiteError
from .activities import BY_CODE_NAME, lock_key
from .connection import affected

# -- consents ---------------------------------------------------------------------------------

_CONSENT_COLUMNS = "code_name, display_name, short_text, full_text"


async def add_consent(connection: Any, consent: Consent, now: datetime) -> None:
    """Create a consent; ValueError if the code name is taken."""
    status = await connection.execute(
        f"INSERT INTO consents ({_CONSENT_COLUMNS}, created) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT ((lower(code_name))) DO NOTHING",
        consent.code_name,
        consent.display_name,
        consent.short_text,
        consent.full_text,
        now,
    )
    if affected(status) == 0:
        raise ValueError(f"a consent with code name {consent.code_name!r} already exists")


async def consents(connection: Any) -> list[Consent]:
    """Every consent, by code name."""
    sql = f"SELECT {_CONSENT_COLUMNS} FROM consents ORDER BY {BY_CODE_NAME}"
    return [Consent(*row) for row in await connection.fetch(sql)]


async def consent(connection: Any, code_name: str) -> Consent | None:
    """The consent with this code name, or None."""
    row = await connection.fetchrow(
        f"SELECT {_CONSENT_COLUMNS} FROM consents WHERE lower(code_name) = lower($1)", code_name
    )
    return None if row is None else Consent(*row)


async def has_agreed(connection: Any, guid: str, consent: str) -> bool:
    """True when the contact's latest answer is an agreement."""
    agreed = await connection.fetchval(
        "SELECT agreed FROM consent_agreements a JOIN contacts c ON c.id = a.contact_id "
        "WHERE c.guid = $1 AND a.consent = lower($2)",
        guid,
        consent,
    )
    return bool(agreed)


async def set_agreement(
    connection: Any, guid: str, consent: str, agree: bool, now: datetime
) -> None:
    """Record an answer; ContactErasedError for an erased contact (it stays erased)."""
    await connection.execute("SELECT pg_advisory_xact_lock_shared($1)", lock_key(guid))
    if await connection.fetchval("SELECT 1 FROM erased_contacts WHERE guid = $1", guid):
        raise ContactErasedError(
            f"contact {guid} was erased and stays erased; create a new contact for this visitor"
        )
    await connection.execute(
        "INSERT INTO contacts (guid, created) VALUES ($1, $2) ON CONFLICT (guid) DO NOTHING",
        guid,
        now,
    )
    await connection.execute(
        "INSERT INTO consent_agreements (contact_id, consent, agreed, updated) "
        "VALUES ((SELECT id FROM contacts WHERE guid = $1), lower($2), $3, $4) "
        "ON CONFLICT (contact_id, consent) DO UPDATE SET agreed = excluded.agreed, "
        "updated = excluded.updated",
        guid,
        consent,
        agree,
        now,
    )


# -- channels and API keys --------------------------------------------------------------------


async def add_api_key(
    connection: Any, channel_name: str, key_id: str, secret_hash: str, now: datetime
) -> Channel:
    """Store a key's hash for the channel, creating the channel if it is new."""
    await connection.execute(
        "INSERT INTO channels (guid, name, created) VALUES ($1, $2, $3) "
        "ON CONFLICT ((lower(name))) DO NOTHING",
        uuid.uuid4(),
        channel_name,
        now,
    )
    row = await connection.fetchrow(
        "SELECT id, guid, name FROM channels WHERE lower(name) = lower($1)", channel_name
    )
    try:
        await connection.execute(
            "INSERT INTO api_keys (channel_id, key_id, secret_hash, created) "
            "VALUES ($1, $2, $3, $4)",
            row[0],
            key_id,
            secret_hash,
            now,
        )
    except asyncpg.UniqueViolationError:
        raise ValueError(f"an API key with id {key_id!r} already exists") from None
    return Channel(row[1], row[2])


async def revoke_api_key(connection: Any, key_id: str, now: datetime) -> None:
    """Revoke an active key; UnknownApiKeyError if there is none."""
    status = await connection.execute(
        "UPDATE api_keys SET revoked = $1 WHERE key_id = $2 AND revoked IS NULL", now, key_id
    )
    if affected(status) == 0:
        raise UnknownApiKeyError(
            f"there is no active API key {key_id!r}; list them with `kxt apikeys list`"
        )


async def restore_api_key(connection: Any, key_id: str) -> None:
    """Make a revoked key work again; UnknownApiKeyError if there is none."""
    status = await connection.execute(
        "UPDATE api_keys SET revoked = NULL WHERE key_id = $1 AND revoked IS NOT NULL", key_id
    )
    if affected(status) == 0:
        raise UnknownApiKeyError(
            f"there is no revoked API key {key_id!r}; list them with `kxt apikeys list`"
        )


async def api_keys(connection: Any) -> list[ApiKey]:
    """Every API key, oldest first."""
    rows = await connection.fetch(
        "SELECT k.key_id, c.guid, c.name, k.created, k.revoked FROM api_keys k "
        "JOIN channels c ON c.id = k.channel_id ORDER BY k.id"
    )
    return [ApiKey(row[0], Channel(row[1], row[2]), row[3], row[4]) for row in rows]


async def active_api_key(connection: Any, key_id: str) -> tuple[str, Channel] | None:
    """The hash and channel of an unrevoked key."""
    row = await connection.fetchrow(
        "SELECT k.secret_hash, c.guid, c.name FROM api_keys k "
        "JOIN channels c ON c.id = k.channel_id WHERE k.key_id = $1 AND k.revoked IS NULL",
        key_id,
    )
    return None if row is None else (row[0], Channel(row[1], row[2]))


# -- sites ------------------------------------------------------------------------------------

_SITE_COLUMNS = "code_name, name, origin, enabled"


def _site(row: Sequence[Any]) -> Site:
    return Site(row[0], row[1], row[2], row[3])


async def add_site(connection: Any, site: Site, now: datetime) -> None:
    """Register a site; ValueError if its code name or origin is taken."""
    try:
        await connection.execute(
            f"INSERT INTO sites ({_SITE_COLUMNS}, created) VALUES ($1, $2, $3, $4, $5)",
            site.code_name,
            site.name,
            site.origin,
            site.enabled,
            now,
        )
    except asyncpg.UniqueViolationError:
        raise ValueError(
            f"a site with code name {site.code_name!r} or origin {site.origin} is already "
            "registered; list them with `kxt sites list`"
        ) from None


async def set_site_enabled(connection: Any, code_name: str, enabled: bool) -> Site:
    """Enable or disable a site; UnknownSiteError if none."""
    row = await connection.fetchrow(
        f"UPDATE sites SET enabled = $1 WHERE lower(code_name) = lower($2) "
        f"RETURNING {_SITE_COLUMNS}",
        enabled,
        code_name,
    )
    if row is None:
        raise UnknownSiteError(f"there is no site {code_name!r}; list them with `kxt sites list`")
    return _site(row)


async def sites(connection: Any) -> list[Site]:
    """Every site, by code name."""
    sql = f"SELECT {_SITE_COLUMNS} FROM sites ORDER BY {BY_CODE_NAME}"
    return [_site(row) for row in await connection.fetch(sql)]


async def site(connection: Any, code_name: str) -> Site | None:
    """The site with this code name."""
    sql = f"SELECT {_SITE_COLUMNS} FROM sites WHERE lower(code_name) = lower($1)"
    row = await connection.fetchrow(sql, code_name)
    return None if row is None else _site(row)


async def enabled_site_for_origin(connection: Any, origin: str) -> Site | None:
    """The enabled site of this normalized origin."""
    sql = f"SELECT {_SITE_COLUMNS} FROM sites WHERE origin = $1 AND enabled"
    row = await connection.fetchrow(sql, origin)
    return None if row is None else _site(row)


# -- operators --------------------------------------------------------------------------------


def _unknown_operator(name: str, hint: str) -> UnknownOperatorError:
    return UnknownOperatorError(f"there is no operator {name!r}; {hint}")


async def add_operator(connection: Any, name: str, password_hash: str, now: datetime) -> Operator:
    """Create an operator; ValueError if the name is taken."""
    status = await connection.execute(
        "INSERT INTO operators (name, password_hash, created) VALUES ($1, $2, $3) "
        "ON CONFLICT ((lower(name))) DO NOTHING",
        name,
        password_hash,
        now,
    )
    if affected(status) == 0:
        raise ValueError(
            f"an operator named {name!r} already exists; choose another name or change the "
            f"password with `kxt users password {name}`"
        )
    return Operator(name, format_time(now))


async def set_operator_password_hash(connection: Any, name: str, hashed: str) -> None:
    """Replace an operator's password hash; UnknownOperatorError if none."""
    status = await connection.execute(
        "UPDATE operators SET password_hash = $1 WHERE lower(name) = lower($2)", hashed, name
    )
    if affected(status) == 0:
        raise _unknown_operator(name, f"create one with `kxt users create {name}`")


async def delete_operator(connection: Any, name: str) -> None:
    """Delete an operator; UnknownOperatorError if none."""
    status = await connection.execute("DELETE FROM operators WHERE lower(name) = lower($1)", name)
    if affected(status) == 0:
        raise _unknown_operator(name, "list them with `kxt users list`")


async def operators(connection: Any) -> list[Operator]:
    """Every operator, by name."""
    rows = await connection.fetch(
        'SELECT name, created FROM operators ORDER BY lower(name) COLLATE "C"'
    )
    return [Operator(row[0], format_time(row[1])) for row in rows]


async def operator_password_hash(connection: Any, name: str) -> tuple[str, str] | None:
    """The stored name and hash of the operator called ``name`` (ignoring case)."""
    row = await connection.fetchrow(
        "SELECT name, password_hash FROM operators WHERE lower(name) = lower($1)", name
    )
    return None if row is None else (row[0], row[1])
