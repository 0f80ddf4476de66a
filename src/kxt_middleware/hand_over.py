"""Cross-site hand-overs: the signed tokens that name a contact on a registered site's pages.

A link from the main site to a registered site goes through the main site's hand-over endpoint,
which adds a short-lived hand-over token to the URL; the external page's script exchanges it for
a site credential it keeps in its own storage. Neither needs third-party cookies. Both are
itsdangerous-signed with the middleware's keys, each with its own salt, and bound to one origin.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .cookie_level import CookieLevel
from .cookies import secret_keys

# The URL parameter that carries a hand-over token to the external page.
TOKEN_PARAMETER = "kxt_handover"
# Defaults: a token only has to survive one navigation; a credential lives as a contact cookie.
TOKEN_MAX_AGE = 5 * 60
CREDENTIAL_MAX_AGE = 2 * 365 * 24 * 60 * 60


class HandOverRefused(Exception):
    """A token or credential that must not name a contact: an error code and why."""

    def __init__(self, error: str, detail: str) -> None:
        super().__init__(detail)
        self.error, self.detail = error, detail


@dataclass(frozen=True)
class HandOver:
    """What a verified token or credential says: the contact, its level, the site's origin."""

    origin: str
    contact: uuid.UUID
    level: CookieLevel


class _Seal:
    """One signed, time-stamped kind of hand-over (its own salt and life)."""

    def __init__(self, keys: list[str], salt: str, max_age: int, what: str) -> None:
        if max_age <= 0:
            raise ValueError(f"the {what}'s max_age must be a positive number of seconds")
        # itsdangerous takes the keys oldest to newest: it signs with the newest, verifies with all.
        self._serializer = URLSafeTimedSerializer(
            keys, salt=salt, signer_kwargs={"digest_method": hashlib.sha256}
        )
        self.max_age = max_age
        self._what = what

    def dump(self, hand_over: HandOver) -> str:
        payload = [hand_over.origin, hand_over.contact.hex, int(hand_over.level)]
        return self._serializer.dumps(payload)

    def load(self, text: Any, origin: str) -> HandOver:
        if not isinstance(text, str):
            raise HandOverRefused("handover_invalid", f"the {self._what} must be a string")
        try:
            payload = self._serializer.loads(text, max_age=self.max_age)
        except SignatureExpired:
            raise HandOverRefused(
                "handover_expired",
                f"the {self._what} is older than {self.max_age} seconds; follow a link from "
                "the main site again",
            ) from None
        except BadSignature:
            raise HandOverRefused(
                "handover_invalid",
                f"the {self._what} is not one the main site signed (altered, or of another kind)",
            ) from None
        signed_origin, contact, level = payload
        if signed_origin != origin:
            raise HandOverRefused(
                "handover_wrong_site",
                f"the {self._what} was issued for {signed_origin}, not for {origin}",
            )
        return HandOver(signed_origin, uuid.UUID(hex=contact), CookieLevel(level))


# HandOverSigner.read_token or .read_credential: (text, origin) -> HandOver.
ReadHandOver = Callable[[Any, str], HandOver]


class HandOverSigner:
    """Issues and verifies hand-over tokens (minutes) and site credentials (long-lived)."""

    def __init__(
        self,
        secret_key: str | Sequence[str],
        *,
        token_max_age: int = TOKEN_MAX_AGE,
        credential_max_age: int = CREDENTIAL_MAX_AGE,
    ) -> None:
        keys = secret_keys(secret_key)
        self._token = _Seal(keys, "kxt.cross-site-handover", token_max_age, "hand-over token")
        self._credential = _Seal(
            keys, "kxt.cross-site-credential", credential_max_age, "site credential"
        )

    @property
    def token_max_age(self) -> int:
        """Seconds a hand-over token is accepted after it was issued."""
        return self._token.max_age

    def token(self, hand_over: HandOver) -> str:
        """A hand-over token for ``hand_over``; ValueError below the Visitor level."""
        if not hand_over.level.allows_tracking:
            raise ValueError("a hand-over names a tracked contact: Visitor level or above only")
        return self._token.dump(hand_over)

    def read_token(self, token: Any, origin: str) -> HandOver:
        """The hand-over a token carries to ``origin``; HandOverRefused when it must not."""
        return self._token.load(token, origin)

    def credential(self, hand_over: HandOver) -> str:
        """The long-lived credential an external page keeps in place of a token."""
        return self._credential.dump(hand_over)

    def read_credential(self, credential: Any, origin: str) -> HandOver:
        """The hand-over a site credential carries to ``origin``; HandOverRefused otherwise."""
        return self._credential.load(credential, origin)
