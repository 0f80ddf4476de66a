"""Consents the operator defines (code name, texts) and contacts' agreements to them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .activity_types import DISPLAY_NAME_MAX, check_text, validate_code_name
from .errors import KxtError

if TYPE_CHECKING:
    from .storage import Store

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


async def add_consent(store: Store, consent: Consent) -> None:
    """Create a consent; ValueError if one with this code name exists."""
    await store.add_consent(consent)


async def consents(store: Store) -> list[Consent]:
    """Every consent, by code name."""
    return await store.consents()


async def get_consent(store: Store, code_name: str) -> Consent | None:
    """The consent with this code name (ignoring case), or None."""
    return await store.consent(code_name)


async def has_agreed(store: Store, contact: uuid.UUID, consent: str) -> bool:
    """True when the contact's latest answer to the consent is an agreement."""
    return await store.has_agreed(contact, consent)


async def set_agreement(store: Store, contact: uuid.UUID, consent: str, agree: bool) -> None:
    """Record the contact's agreement to (or revocation of) a consent.

    Raises ContactErasedError for a contact that was erased: it stays erased (a visitor who
    agrees again continues as a new contact).
    """
    await store.set_agreement(contact, consent, agree)


def consent_json(consent: Consent) -> dict[str, Any]:
    """The headless API's view of a consent."""
    return {"shortText": consent.short_text, "fullText": consent.full_text}
