"""The visitor behind one request: cookie level and contact, read from and written to cookies."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from starlette.requests import HTTPConnection
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
        "_cookies", "_scope", "_loaded", "_level", "_guid", "_write_level", "_write_contact",
        "_delete_contact", "_had_contact_cookie", "_raw_landing", "_chosen", "_write_landing",
        "_erased", "revoked_contact", "response_started",
    )  # fmt: skip

    def __init__(self, cookies: VisitorCookies, scope: Scope) -> None:
        self._cookies = cookies
        self._scope = scope
        self._loaded = False
        self._level = cookies.default_level
        self._guid: uuid.UUID | None = None
        self._write_level = False
        self._write_contact = False
        self._delete_contact = False
        self._had_contact_cookie = False
        self._raw_landing: str | None = None
        self._chosen = False
        self._write_landing = False
        self._erased = False
        self.revoked_contact: Contact | None = None
        self.response_started = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        connection = HTTPConnection(self._scope)
        cookies = connection.cookies
        level = self._cookies.level.load(cookies.get(self._cookies.level.name))
        if level is not None and _is_level(level.value):
            self._level = CookieLevel(int(level.value))
            self._write_level = level.reissue
            self._chosen = True
        else:
            self._level = self._cookies.default_level
            # Global Privacy Control is an opt-out: without an explicit choice, don't track.
            gpc = connection.headers.get("sec-gpc", "").strip() == "1"
            if gpc and self._cookies.honor_global_privacy_control:
                self._level = min(self._level, CookieLevel.ESSENTIAL)
        raw_contact = cookies.get(self._cookies.contact.name)
        self._had_contact_cookie = raw_contact is not None
        contact = self._cookies.contact.load(raw_contact)
        if contact is not None and _is_guid(contact.value) and self._level.allows_tracking:
            self._guid = uuid.UUID(contact.value)
            self._write_contact = contact.reissue
        elif raw_contact is not None and not self._level.allows_tracking:
            self._delete_contact = True  # a contact cookie has no business below Visitor
        self._raw_landing = cookies.get(self._cookies.landing_page.name)

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
        self._level = new_level
        self._write_level = self._chosen = True
        if not new_level.allows_tracking:
            if self._guid is not None:
                self.revoked_contact = Contact(self._guid)
            if self._guid is not None or self._had_contact_cookie:
                self._delete_contact = True
            self._guid = None
            self._write_contact = False
            self._write_landing = False
        return new_level

    def start_page_visit(self) -> bool:
        """Note a page visit; True when it is the first page of a visit (a landing page).

        A visit lasts while pages follow each other within the landing page cookie's life
        (20 minutes by default, renewed by every page).
        """
        self._load()
        if not self._level.allows_tracking or self._erased:
            return False
        self._require_open_response("noting a page visit")
        in_visit = self._write_landing or self._cookies.landing_page.load(self._raw_landing)
        self._write_landing = True
        return not in_visit

    def contact(self, *, create: bool = True) -> Contact | None:
        """The visitor's contact, created when needed; None below the Visitor level."""
        self._load()
        if not self._level.allows_tracking or self._erased:
            return None
        if self._guid is None:
            if not create:
                return None
            self._require_open_response("creating the current contact")
            self._guid = uuid.uuid4()
            self._write_contact = True
            self._delete_contact = False
        return Contact(self._guid)

    def adopt(self, contact: uuid.UUID, level: CookieLevel) -> bool:
        """Take the contact and level a cross-site hand-over names, unless cookies name the
        visitor (the main site's own cookies, when the browser sends them, are the newer word).
        True when adopted."""
        self._load()
        if self._chosen or self._guid is not None or self._erased:
            return False
        self._level = level
        self._guid = contact
        return True

    @property
    def erased(self) -> bool:
        """True once this request learned that the visitor's contact was erased."""
        return self._erased

    def forget_contact(self, contact: Contact) -> None:
        """Drop ``contact`` (erased from the store) and remove its cookie if the response allows.

        For the rest of this request the visitor has no contact (its cookies predate the
        erasure: they may come from before a revoke); a visitor who still consents gets a new
        contact on a later request.
        """
        if self._guid != contact.guid:
            return
        self._guid = None
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
        if self._write_contact and self._guid is not None:
            headers.append(self._cookies.contact.dump(self._guid.hex, secure=secure))
        elif self._delete_contact:
            headers.append(self._cookies.contact.delete(secure=secure))
        if self._write_landing:
            headers.append(self._cookies.landing_page.dump("1", secure=secure))
        elif self._raw_landing is not None and not self._level.allows_tracking:
            headers.append(self._cookies.landing_page.delete(secure=secure))
        return headers


def _is_level(text: str) -> bool:
    try:
        CookieLevel.parse(text)
    except ValueError:
        return False
    return True


def _is_guid(text: str) -> bool:
    try:
        return uuid.UUID(text).hex == text
    except ValueError:
        return False
