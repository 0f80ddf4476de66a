"""SQL for what operators configure: consents, channels and API keys, sites, operators."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

from ...activities import parse_time
from ...api_keys import ApiKey, Channel, UnknownApiKeyError
from ...consents import Consent
from ...errors import ContactErasedError
from ...operators import Operator, UnknownOperatorError
from ...sites import Site, UnknownSiteError

# -- consents ---------------------------------------------------------------------------------

_CONSENT_COLUMNS = "code_name, display_name, short_text, full_text"


def add_consent(connection: sqlite3.Connection, consent: Consent, stamp: str) -> None:
    """Create a consent; ValueError if the code name is taken."""
    cursor = connection.execute(
        f"INSERT INTO consents ({_CONSENT_COLUMNS}, created) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (code_name) DO NOTHING",
        (consent.code_name, consent.display_name, consent.short_text, consent.full_text, stamp),
    )
    if cursor.rowcount == 0:
        raise ValueError(f"a consent with code name {consent.code_name!r} already exists")


def consents(connection: sqlite3.Connection) -> list[Consent]:
    """Every consent, by code name."""
    sql = f"SELECT {_CONSENT_COLUMNS} FROM consents ORDER BY code_name"
    return [Consent(*row) for row in connection.execute(sql)]


def consent(connection: sqlite3.Connection, code_name: str) -> Consent | None:
    """The consent with this code name, or None."""
    row = connection.execute(
        f"SELECT {_CONSENT_COLUMNS} FROM consents WHERE code_name = ?", (code_name,)
    ).fetchone()
    return None if row is None else Consent(*row)


def has_agreed(connection: sqlite3.Connection, guid: str, consent: str) -> bool:
    """True when the contact's latest answer is an agreement."""
    row = connection.execute(
        "SELECT agreed FROM consent_agreements a JOIN contacts c ON c.id = a.contact_id "
        "WHERE c.guid = ? AND a.consent = ?",
        (guid, consent),
    ).fetchone()
    return bool(row and row[0])


def set_agreement(
    connection: sqlite3.Connection, guid: str, consent: str, agree: bool, stamp: str
) -> None:
    """Record an answer; ContactErasedError for an erased contact (it stays erased)."""
    if connection.execute("SELECT 1 FROM erased_contacts WHERE guid = ?", (guid,)).fetchone():
        raise ContactErasedError(
            f"contact {guid} was erased and stays erased; create a new contact for this visitor"
        )
    connection.execute(
        "INSERT INTO contacts (guid, created) VALUES (?, ?) ON CONFLICT (guid) DO NOTHING",
        (guid, stamp),
    )
    connection.execute(
        "INSERT INTO consent_agreements (contact_id, consent, agreed, updated) "
        "VALUES ((SELECT id FROM contacts WHERE guid = ?), ?, ?, ?) "
        "ON CONFLICT (contact_id, consent) DO UPDATE SET agreed = excluded.agreed, "
        "updated = excluded.updated",
        (guid, consent, int(agree), stamp),
    )


# -- channels and API keys --------------------------------------------------------------------


def add_api_key(
    connection: sqlite3.Connection, channel_name: str, key_id: str, secret_hash: str, stamp: str
) -> Channel:
    """Store a key's hash for the channel, creating the channel if it is new."""
    connection.execute(
        "INSERT INTO channels (guid, name, created) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
        (str(uuid.uuid4()), channel_name, stamp),
    )
    row = connection.execute(
        "SELECT id, guid, name FROM channels WHERE name = ?", (channel_name,)
    ).fetchone()
    connection.execute(
        "INSERT INTO api_keys (channel_id, key_id, secret_hash, created) VALUES (?, ?, ?, ?)",
        (row[0], key_id, secret_hash, stamp),
    )
    return Channel(uuid.UUID(row[1]), row[2])


def revoke_api_key(connection: sqlite3.Connection, key_id: str, stamp: str) -> None:
    """Revoke an active key; UnknownApiKeyError if there is none."""
    cursor = connection.execute(
        "UPDATE api_keys SET revoked = ? WHERE key_id = ? AND revoked IS NULL", (stamp, key_id)
    )
    if cursor.rowcount == 0:
        raise UnknownApiKeyError(
            f"there is no active API key {key_id!r}; list them with `kxt apikeys list`"
        )


def restore_api_key(connection: sqlite3.Connection, key_id: str) -> None:
    """Make a revoked key work again; UnknownApiKeyError if there is none."""
    cursor = connection.execute(
        "UPDATE api_keys SET revoked = NULL WHERE key_id = ? AND revoked IS NOT NULL", (key_id,)
    )
    if cursor.rowcount == 0:
        raise UnknownApiKeyError(
            f"there is no revoked API key {key_id!r}; list them with `kxt apikeys list`"
        )


def api_keys(connection: sqlite3.Connection) -> list[ApiKey]:
    """Every API key, oldest first."""
    rows = connection.execute(
        "SELECT k.key_id, c.guid, c.name, k.created, k.revoked FROM api_keys k "
        "JOIN channels c ON c.id = k.channel_id ORDER BY k.id"
    )
    return [
        ApiKey(
            row[0],
            Channel(uuid.UUID(row[1]), row[2]),
            parse_time(row[3]),
            parse_time(row[4]) if row[4] else None,
        )
        for row in rows
    ]


def active_api_key(connection: sqlite3.Connection, key_id: str) -> tuple[str, Channel] | None:
    """The hash and channel of an unrevoked key."""
    row = connection.execute(
        "SELECT k.secret_hash, c.guid, c.name FROM api_keys k "
        "JOIN channels c ON c.id = k.channel_id WHERE k.key_id = ? AND k.revoked IS NULL",
        (key_id,),
    ).fetchone()
    return None if row is None else (row[0], Channel(uuid.UUID(row[1]), row[2]))


# -- sites ------------------------------------------------------------------------------------

_SITE_COLUMNS = "code_name, name, origin, enabled"


def _site(row: Sequence[Any]) -> Site:
    return Site(row[0], row[1], row[2], bool(row[3]))


def add_site(connection: sqlite3.Connection, site: Site, stamp: str) -> None:
    """Register a site; ValueError if its code name or origin is taken."""
    try:
        connection.execute(
            f"INSERT INTO sites ({_SITE_COLUMNS}, created) VALUES (?, ?, ?, ?, ?)",
            (site.code_name, site.name, site.origin, int(site.enabled), stamp),
        )
    except sqlite3.IntegrityError:
        raise ValueError(
            f"a site with code name {site.code_name!r} or origin {site.origin} is already "
            "registered; list them with `kxt sites list`"
        ) from None


def set_site_enabled(connection: sqlite3.Connection, code_name: str, enabled: bool) -> Site:
    """Enable or disable a site; UnknownSiteError if none."""
    connection.execute(
        "UPDATE sites SET enabled = ? WHERE code_name = ?", (int(enabled), code_name)
    )
    found = site(connection, code_name)
    if found is None:
        raise UnknownSiteError(f"there is no site {code_name!r}; list them with `kxt sites list`")
    return found


def sites(connection: sqlite3.Connection) -> list[Site]:
    """Every site, by code name."""
    sql = f"SELECT {_SITE_COLUMNS} FROM sites ORDER BY code_name"
    return [_site(row) for row in connection.execute(sql)]


def site(connection: sqlite3.Connection, code_name: str) -> Site | None:
    """The site with this code name."""
    sql = f"SELECT {_SITE_COLUMNS} FROM sites WHERE code_name = ?"
    row = connection.execute(sql, (code_name,)).fetchone()
    return None if row is None else _site(row)


def enabled_site_for_origin(connection: sqlite3.Connection, origin: str) -> Site | None:
    """The enabled site of this normalized origin."""
    sql = f"SELECT {_SITE_COLUMNS} FROM sites WHERE origin = ? AND enabled = 1"
    row = connection.execute(sql, (origin,)).fetchone()
    return None if row is None else _site(row)


# -- operators --------------------------------------------------------------------------------


def _unknown_operator(name: str, hint: str) -> UnknownOperatorError:
    return UnknownOperatorError(f"there is no operator {name!r}; {hint}")


def add_operator(
    connection: sqlite3.Connection, name: str, password_hash: str, stamp: str
) -> Operator:
    """Create an operator; ValueError if the name is taken."""
    cursor = connection.execute(
        "INSERT INTO operators (name, password_hash, created) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO NOTHING",
        (name, password_hash, stamp),
    )
    if cursor.rowcount == 0:
        raise ValueError(
            f"an operator named {name!r} already exists; choose another name or change the "
            f"password with `kxt users password {name}`"
        )
    return Operator(name, stamp)


def set_operator_password_hash(connection: sqlite3.Connection, name: str, hashed: str) -> None:
    """Replace an operator's password hash; UnknownOperatorError if none."""
    cursor = connection.execute(
        "UPDATE operators SET password_hash = ? WHERE name = ?", (hashed, name)
    )
    if cursor.rowcount == 0:
        raise _unknown_operator(name, f"create one with `kxt users create {name}`")


def delete_operator(connection: sqlite3.Connection, name: str) -> None:
    """Delete an operator; UnknownOperatorError if none."""
    if connection.execute("DELETE FROM operators WHERE name = ?", (name,)).rowcount == 0:
        raise _unknown_operator(name, "list them with `kxt users list`")


def operators(connection: sqlite3.Connection) -> list[Operator]:
    """Every operator, by name."""
    sql = "SELECT name, created FROM operators ORDER BY name COLLATE NOCASE"
    return [Operator(row[0], row[1]) for row in connection.execute(sql)]


def operator_password_hash(connection: sqlite3.Connection, name: str) -> tuple[str, str] | None:
    """The stored name and hash of the operator called ``name`` (ignoring case)."""
    row = connection.execute(
        "SELECT name, password_hash FROM operators WHERE name = ?", (name,)
    ).fetchone()
    return None if row is None else (row[0], row[1])
