"""Consents the operator defines (code name, texts) and contacts' agreements to them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import aiosqlite

from .activities import format_time
from .activity_types import DISPLAY_NAME_MAX, check_text, validate_code_name
from .errors import ContactErasedError, KxtError
from .store import ActivityStore, was_erased

SHORT_TEXT_MAX = 1_000
FULL_TEXT_MAX = 20_000


class UnknownConsentError(KxtError, LookupError):
    """Raised when a consent that does not exist is used."""


@dataclass(frozen=True)
class Consent:
    """A consent a contact can agree to, with the texts shown to the visitor."""

    code_name: str
    display_name: str
    short_text: str = ""
    full_text: str = ""

    def __post_init__(self) -> None:
        validate_code_name(self.code_name)
        check_text("display_name", self.display_name, DISPLAY_NAME_MAX, required=True)
        check_text("short_text", self.short_text, SHORT_TEXT_MAX)
        check_text("full_text", self.full_text, FULL_TEXT_MAX)


async def add_consent(store: ActivityStore, consent: Consent) -> None:
    """Create a consent; ValueError if one with this code name exists."""

    async def add(connection: aiosqlite.Connection) -> None:
        cursor = await connection.execute(
            "INSERT INTO consents (code_name, display_name, short_text, full_text, created) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (code_name) DO NOTHING",
            (
                consent.code_name,
                consent.display_name,
                consent.short_text,
                consent.full_text,
                format_time(store.clock()),
            ),
        )
        if cursor.rowcount == 0:
            raise ValueError(f"a consent with code name {consent.code_name!r} already exists")

    await store.write(add)


async def consents(store: ActivityStore) -> list[Consent]:
    """Every consent, by code name."""
    connection = await store.read_connection()
    async with connection.execute(
        "SELECT code_name, display_name, short_text, full_text FROM consents ORDER BY code_name"
    ) as cursor:
        return [Consent(*row) async for row in cursor]


async def get_consent(store: ActivityStore, code_name: str) -> Consent | None:
    """The consent with this code name (ignoring case), or None."""
    connection = await store.read_connection()
    async with connection.execute(
        "SELECT code_name, display_name, short_text, full_text FROM consents WHERE code_name = ?",
        (code_name,),
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else Consent(*row)


async def has_agreed(store: ActivityStore, contact: uuid.UUID, consent: str) -> bool:
    """True when the contact's latest answer to the consent is an agreement."""
    connection = await store.read_connection()
    async with connection.execute(
        "SELECT agreed FROM consent_agreements a JOIN contacts c ON c.id = a.contact_id "
        "WHERE c.guid = ? AND a.consent = ?",
        (str(contact), consent),
    ) as cursor:
        row = await cursor.fetchone()
    return bool(row and row[0])


async def set_agreement(
    store: ActivityStore, contact: uuid.UUID, consent: str, agree: bool
) -> None:
    """Record the contact's agreement to (or revocation of) a consent.

    Raises ContactErasedError for a contact that was erased: it stays erased (a visitor who
    agrees again continues as a new contact).
    """

    async def record(connection: aiosqlite.Connection) -> None:
        if await was_erased(connection, contact):
            raise ContactErasedError(
                f"contact {contact} was erased and stays erased; create a new contact "
                "for this visitor"
            )
        stamp = format_time(store.clock())
        await connection.execute(
            "INSERT INTO contacts (guid, created) VALUES (?, ?) ON CONFLICT (guid) DO NOTHING",
            (str(contact), stamp),
        )
        await connection.execute(
            "INSERT INTO consent_agreements (contact_id, consent, agreed, updated) "
            "VALUES ((SELECT id FROM contacts WHERE guid = ?), ?, ?, ?) "
            "ON CONFLICT (contact_id, consent) DO UPDATE SET agreed = excluded.agreed, "
            "updated = excluded.updated",
            (str(contact), consent, int(agree), stamp),
        )

    await store.write(record)


def consent_json(consent: Consent) -> dict[str, Any]:
    """The headless API's view of a consent."""
    return {"shortText": consent.short_text, "fullText": consent.full_text}
