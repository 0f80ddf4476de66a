"""The visitor behind one request: cookie level and contact, read from and written to cookies."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass

from starlette.requests import cookie_parser
from starlette.types import Scope

from .cookie_level import CookieLevel
from .cookies import SignedCookie
from .errors import NoRequestContextError


@dataclass(frozen=True)
class Contact:
    """A tracked visitor, known by the GUID in its ``CurrentContact`` cookie."""

    guid: uuid.UUID


@dataclass(frozen=True)
class VisitorCookies:
    """How visitors are recognized: the two signed cookies and the site's consent defaults."""

    level: SignedCookie
    contact: SignedCookie
    landing_page: SignedCookie
    default_level: CookieLevel = CookieLevel.ESSENTIAL
    honor_global_privacy_control: bool = True


class Visitor:
    """Cookie level and contact of the visitor making one request (read lazily from cookies)."""

    __slots__ = (
        "_cookies", "_scope", "_loaded", "_level", "_tracks", "_current", "_write_level",
        "_write_contact",
        "_delete_contact", "_had_contact_cookie", "_raw_landing", "_chosen", "_write_landing",
        "_erased", "revoked_contact", "response_started",
    )  # fmt: skip

    def __init__(self, cookies: VisitorCookies, scope: Scope) -> None:
        # Only what every request needs; the rest is set by _load(), on first use, so a request
        # that does not track reads no cookie and sets five attributes.
        self._cookies = cookies
        self._scope = scope
        self._loaded = False
        self.revoked_contact: Contact | None = None
        self.response_started = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        self._current: Contact | None = None  # the contact, once known (or created)
        self._write_level = False
        self._write_contact = False
        self._delete_contact = False
        self._chosen = False
        self._write_landing = False
        self._erased = False
        raw_cookies: list[str] = []
        gpc = False
        name: bytes
        value: bytes
        for name, value in self._scope["headers"]:
            if name == b"cookie":
                raw_cookies.append(value.decode("latin-1"))
            elif name == b"sec-gpc":
                gpc = value.strip() == b"1"
        cookies = _parsed_cookies("; ".join(raw_cookies)) if raw_cookies else {}
        signed_level = self._cookies.level.load(cookies.get(self._cookies.level.name))
        level = _level(signed_level.value) if signed_level is not None else None
        if signed_level is not None and level is not None:
            self._set_level(level)
            self._write_level = signed_level.reissue
            self._chosen = True
        elif gpc and self._cookies.honor_global_privacy_control:
            # Global Privacy Control is an opt-out: without an explicit choice, don't track.
            self._set_level(min(self._cookies.default_level, CookieLevel.ESSENTIAL))
        else:
            self._set_level(self._cookies.default_level)
        raw_contact = cookies.get(self._cookies.contact.name)
        self._had_contact_cookie = raw_contact is not None
        signed_contact = self._cookies.contact.load(raw_contact)
        contact = _contact(signed_contact.value) if signed_contact is not None else None
        if signed_contact is not None and contact is not None and self._tracks:
            self._current = contact
            self._write_contact = signed_contact.reissue
        elif raw_contact is not None and not self._tracks:
            self._delete_contact = True  # a contact cookie has no business below Visitor
        self._raw_landing = cookies.get(self._cookies.landing_page.name)

    def _set_level(self, level: CookieLevel) -> None:
        self._level = level
        self._tracks = level.allows_tracking  # asked on every contact(): a bool costs less

    @property
    def has_chosen(self) -> bool:
        """True when the level is the visitor's own choice (a valid cookie, or set just now)."""
        self._load()
        return self._chosen

    @property
    def default_level(self) -> CookieLevel:
        """The site's level for visitors who have not chosen."""
        return self._cookies.default_level

    @property
    def level(self) -> CookieLevel:
        """The visitor's cookie level (the site's default when no valid cookie says otherwise)."""
        self._load()
        return self._level

    def set_level(self, level: CookieLevel | int | str) -> CookieLevel:
        """Change the level for this and later requests; the cookie goes out with this response."""
        new_level = CookieLevel.parse(level)
        self._load()
        self._require_open_response("set_cookie_level")
        self._set_level(new_level)
        self._write_level = self._chosen = True
        if not self._tracks:
            if self._current is not None:
                self.revoked_contact = self._current
                self._delete_contact = True
            elif self._had_contact_cookie:
                self._delete_contact = True
            self._current = None
            self._write_contact = False
            self._write_landing = False
        return new_level

    def start_page_visit(self) -> bool:
        """Note a page visit; True when it is the first page of a visit (a landing page).

        A visit lasts while pages follow each other within the landing page cookie's life
        (20 minutes by default, renewed by every page).
        """
        self._load()
        if not self._tracks or self._erased:
            return False
        self._require_open_response("noting a page visit")
        in_visit = self._write_landing or self._cookies.landing_page.load(self._raw_landing)
        self._write_landing = True
        return not in_visit

    def contact(self, *, create: bool = True) -> Contact | None:
        """The visitor's contact, created when needed; None below the Visitor level."""
        if not self._loaded:
            self._load()
        if not self._tracks or self._erased:
            return None
        if self._current is None:
            if not create:
                return None
            self._require_open_response("creating the current contact")
            self._current = Contact(uuid.uuid4())
            self._write_contact = True
            self._delete_contact = False
        return self._current

    def adopt(self, contact: uuid.UUID, level: CookieLevel) -> bool:
        """Take the contact and level a cross-site hand-over names, unless cookies name the
        visitor (the main site's own cookies, when the browser sends them, are the newer word).
        True when adopted."""
        self._load()
        if self._chosen or self._current is not None or self._erased:
            return False
        self._set_level(level)
        self._current = Contact(contact)
        return True

    @property
    def erased(self) -> bool:
        """True once this request learned that the visitor's contact was erased."""
        return self._loaded and self._erased

    def forget_contact(self, contact: Contact) -> None:
        """Drop ``contact`` (erased from the store) and remove its cookie if the response allows.

        For the rest of this request the visitor has no contact (its cookies predate the
        erasure: they may come from before a revoke); a visitor who still consents gets a new
        contact on a later request.
        """
        if not self._loaded or self._current is None or self._current.guid != contact.guid:
            return
        self._current = None
        self._erased = True
        self._write_contact = False
        self._delete_contact = not self.response_started

    def _require_open_response(self, action: str) -> None:
        if self.response_started:
            raise NoRequestContextError(
                f"{action} needs to set a cookie, but this request's response has already "
                "started; do it before returning the response (for example, call "
                "get_current_contact(request) in the endpoint before starting a background task)"
            )

    def set_cookie_headers(self) -> list[str]:
        """The ``Set-Cookie`` values this response must carry (empty when nothing changed)."""
        if not self._loaded:
            return []
        secure = self._scope.get("scheme") in ("https", "wss")
        headers: list[str] = []
        if self._write_level:
            headers.append(self._cookies.level.dump(str(int(self._level)), secure=secure))
        if self._write_contact and self._current is not None:
            headers.append(self._cookies.contact.dump(self._current.guid.hex, secure=secure))
        elif self._delete_contact:
            headers.append(self._cookies.contact.delete(secure=secure))
        if self._write_landing:
            headers.append(self._cookies.landing_page.dump("1", secure=secure))
        elif self._raw_landing is not None and not self._tracks:
            headers.append(self._cookies.landing_page.delete(secure=secure))
        return headers


_LEVELS = {str(level.value): level for level in CookieLevel}

# Cookie headers of recent requests, parsed: a returning visitor sends the same header on every
# request. Only headers of a usual size are kept, so the memory this takes stays small.
_COOKIES: dict[str, dict[str, str]] = {}
_COOKIES_MAX = 4096
_COOKIE_HEADER_MAX = 1024


def _parsed_cookies(header: str) -> dict[str, str]:
    """Starlette's parse of a Cookie header, remembered (callers must not change it)."""
    cookies = _COOKIES.get(header)
    if cookies is None:
        cookies = cookie_parser(header)
        if len(header) <= _COOKIE_HEADER_MAX:
            if len(_COOKIES) >= _COOKIES_MAX:
                del _COOKIES[next(iter(_COOKIES))]  # the oldest entry
            _COOKIES[header] = cookies
    return cookies


def _level(text: str) -> CookieLevel | None:
    level = _LEVELS.get(text)  # the numbers the cookie holds
    if level is not None:
        return level
    try:
        return CookieLevel.parse(text)
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)  # the contact cookies of recent visitors
def _contact(text: str) -> Contact | None:
    """The contact a contact cookie names (32 lower-case hex digits, as written), else None."""
    try:
        guid = uuid.UUID(text)
    except ValueError:
        return None
    return Contact(guid) if guid.hex == text else None
