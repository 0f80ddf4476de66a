"""Signed cookies: one itsdangerous signer per purpose, key rotation, strict verification."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import Literal, NamedTuple

from itsdangerous import TimestampSigner
from itsdangerous.encoding import base64_decode, bytes_to_int

SameSite = Literal["lax", "strict", "none"]
_EXPIRED = "Max-Age=0; expires=Thu, 01 Jan 1970 00:00:00 GMT"
_CLOCK_SKEW = 300  # seconds a cookie's time stamp may lie in the future (servers' clocks differ)
# Verified cookies remembered per SignedCookie: a returning visitor sends the same text on every
# request, and its signature (two HMACs) need not be computed again for each one.
_VERIFIED_MAX = 4096


def secret_keys(secret_key: str | Sequence[str]) -> list[str]:
    """Normalize ``secret_key`` (one key, or a list oldest -> newest); ValueError when empty."""
    if isinstance(secret_key, str):
        keys = [secret_key]
    elif isinstance(secret_key, Sequence):
        keys = list(secret_key)
    else:
        keys = []  # e.g. a number or bytes: refused below, with how to make a key
    if not keys or any(not isinstance(key, str) or not key for key in keys):
        raise ValueError(
            "secret_key must be a non-empty string or a list of non-empty strings "
            "(oldest to newest, for key rotation); generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
    return keys


class CookieValue(NamedTuple):
    """A verified cookie value and whether the cookie should be written again (a named tuple:
    one is made for each cookie of each tracking request)."""

    value: str
    reissue: bool


class SignedCookie:
    """A cookie whose value is signed and time-stamped for one purpose (its salt).

    Verification is strict: the cookie must be exactly what we would have produced, so no
    mutated cookie is accepted; an expired cookie, or one signed for another purpose or with an
    unknown key, reads as absent.
    """

    def __init__(
        self,
        name: str,
        *,
        secret_key: str | Sequence[str],
        salt: str,
        max_age: int,
        same_site: SameSite = "lax",
        https_only: bool = False,
        domain: str | None = None,
        path: str = "/",
    ) -> None:
        if same_site not in ("lax", "strict", "none"):
            raise ValueError("same_site must be 'lax', 'strict' or 'none'")
        if same_site == "none" and not https_only:
            raise ValueError(
                "same_site='none' needs https_only=True: browsers drop SameSite=None cookies "
                "that are not Secure"
            )
        if max_age <= 0:
            raise ValueError("a cookie's max_age must be a positive number of seconds")
        self.name = name
        self.max_age = max_age
        # Newest key first: it signs, and a cookie it verifies needs no re-issue.
        self._signers = [
            TimestampSigner(key, salt=salt, digest_method=hashlib.sha256)
            for key in reversed(secret_keys(secret_key))
        ]
        self._attributes = f"Path={path}; HttpOnly; SameSite={same_site.capitalize()}"
        if domain is not None:
            self._attributes += f"; Domain={domain}"
        self._always_secure = https_only
        self._half_life = max_age / 2
        # Exact cookie text -> its time stamp, and what load() answers for it before and after
        # half its life (made once: a returning visitor sends the same text again and again).
        self._verified: dict[str, tuple[int, CookieValue, CookieValue]] = {}

    def load(self, raw: str | None) -> CookieValue | None:
        """The verified value of a cookie, or None when it is missing, tampered or expired."""
        if not raw:
            return None
        known = self._verified.get(raw)
        if known is None:
            verified = self._verify(raw)
            if verified is None:
                return None
            value, stamp, position = verified
            # Re-issue when signed with an older key, or past half its life (a sliding expiry).
            known = (stamp, CookieValue(value, position > 0), CookieValue(value, True))
            if len(self._verified) >= _VERIFIED_MAX:
                del self._verified[next(iter(self._verified))]  # the oldest entry
            self._verified[raw] = known
        stamp, young, old = known
        age = time.time() - stamp
        if not -_CLOCK_SKEW <= age <= self.max_age:
            return None  # expired (or signed in the future by a badly set clock)
        return young if age <= self._half_life else old

    def _verify(self, raw: str) -> tuple[str, int, int] | None:
        """(value, time stamp, key position) of a cookie whose signature is exactly right."""
        head, dot, signature = raw.rpartition(".")
        if not dot:
            return None
        value, dot, stamp = head.rpartition(".")
        if not dot:
            return None
        for position, signer in enumerate(self._signers):
            # Compare the exact text: base64 has spare bits, so decoding would accept variants.
            expected = signer.get_signature(head)
            if not hmac.compare_digest(expected, signature.encode("ascii", "replace")):
                continue
            try:
                return value, bytes_to_int(base64_decode(stamp)), position
            except (ValueError, TypeError):
                return None
        return None

    def dump(self, value: str, *, secure: bool) -> str:
        """A ``Set-Cookie`` header value carrying ``value``, signed with the newest key."""
        signed = self._signers[0].sign(value).decode("ascii")
        return f"{self.name}={signed}; Max-Age={self.max_age}; {self._flags(secure)}"

    def delete(self, *, secure: bool) -> str:
        """A ``Set-Cookie`` header value that removes the cookie."""
        return f'{self.name}=""; {_EXPIRED}; {self._flags(secure)}'

    def _flags(self, secure: bool) -> str:
        if secure or self._always_secure:
            return self._attributes + "; Secure"
        return self._attributes
