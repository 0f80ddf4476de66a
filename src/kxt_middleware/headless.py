"""The headless tracking API (Kentico-compatible paths and bodies), with consent enforced."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from .activities import ActivitySource, LogResult, LogStatus
from .api_keys import Channel, authenticate
from .consents import consent_json, get_consent, has_agreed, set_agreement
from .errors import ContactErasedError, StoreOverloadedError
from .intake import RULES, Invalid, activity_list, object_fields, read_valid
from .openapi import openapi_document
from .tracking import ActivityTracker
from .visitor import Contact
from .web import RequestError, allow_methods, allow_origin, overloaded, preflight, read_json

_CONTACT_CONSENT = re.compile(r"/contacts/([^/]+)/consents/([^/]+)")
_CONSENT = re.compile(r"/consents/([^/]+)")
_HEADLESS = RULES[ActivitySource.HEADLESS]
_MAX_BODY = _HEADLESS.max_body or 0
_STATUS, _ACTIVITY_ID = attrgetter("status"), attrgetter("activity_id")
_ONLY_LOGGED = {LogStatus.LOGGED}
_RESULT_STATUS = {
    LogStatus.LOGGED: 202,
    LogStatus.NO_CONSENT: 403,
    LogStatus.TYPE_UNKNOWN: 404,
    LogStatus.TYPE_DISABLED: 422,
    LogStatus.CONTACT_ERASED: 410,
}


@dataclass(frozen=True)
class HeadlessApi:
    """Contacts, consents and activities for apps that track without the browser script."""

    prefix: str
    tracker: ActivityTracker
    tracking_consent: str = "tracking"
    require_consent: bool = True
    erase_on_revoke: bool = True
    cors_origins: frozenset[str] = field(default_factory=frozenset)

    async def handle(self, route: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request for ``route`` (the path below the prefix)."""
        headers = Headers(scope=scope)
        try:
            response = await self._dispatch(route, scope, receive, headers)
        except RequestError as refused:
            response = refused.response()
        origin = headers.get("origin")
        allowed = origin if origin in self.cors_origins else None
        allow_origin(response, allowed, expose="www-authenticate, retry-after")
        await response(scope, receive, send)

    async def _dispatch(
        self, route: str, scope: Scope, receive: Receive, headers: Headers
    ) -> Response:
        method = scope["method"]
        if method == "OPTIONS":
            return self._preflight(headers)
        if route == "/openapi.json":
            allow_methods(method, "GET")
            return JSONResponse(openapi_document(self.prefix))
        if not (
            route in ("/contacts", "/activities")
            or _CONTACT_CONSENT.fullmatch(route)
            or _CONSENT.fullmatch(route)
        ):
            raise RequestError(404, "not_found", f"no tracking endpoint at {self.prefix}{route}")
        channel = await self._channel(headers)
        store = self.tracker.store
        if route == "/contacts":
            allow_methods(method, "POST")
            return JSONResponse({"contact": str(uuid.uuid4())})
        if match := _CONTACT_CONSENT.fullmatch(route):
            allow_methods(method, "GET", "POST")
            contact = _guid(match[1], "contact")
            consent = await self._consent(match[2])
            if method == "POST":
                body = object_fields(await read_json(scope, receive, headers, _MAX_BODY), _HEADLESS)
                agree = body.get("agree")
                if not isinstance(agree, bool):
                    raise RequestError(422, "invalid_body", 'expected {"agree": true|false}')
                try:
                    await _overload_safe(set_agreement(store, contact, consent, agree))
                except ContactErasedError as exc:
                    raise RequestError(
                        410,
                        "contact_erased",
                        f"{exc} (POST {self.prefix}/contacts gives a new one)",
                    ) from None
                tracking = consent.lower() == self.tracking_consent.lower()
                if not agree and tracking and self.erase_on_revoke:
                    # As in the browser: revoking tracking erases what was stored about the
                    # contact, and its GUID can never be tracked again.
                    await _overload_safe(store.delete_contact(contact))
            return JSONResponse({"isAgreed": await has_agreed(store, contact, consent)})
        if match := _CONSENT.fullmatch(route):
            allow_methods(method, "GET")
            found = await get_consent(store, match[1])
            if found is None:
                raise RequestError(404, "unknown_consent", f"no consent {match[1]!r}")
            return JSONResponse(consent_json(found))
        allow_methods(method, "POST")  # /activities
        body = await read_json(scope, receive, headers, _MAX_BODY)
        return await self._activities(channel, body)

    def _preflight(self, headers: Headers) -> Response:
        origin = headers.get("origin")
        if origin is None or origin not in self.cors_origins:
            raise RequestError(403, "origin_not_allowed", f"{origin} may not call this API")
        return preflight("GET, POST", "authorization, content-type")

    async def _channel(self, headers: Headers) -> Channel:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        channel = None
        if scheme.lower() == "bearer" and token.strip():
            channel = await authenticate(self.tracker.store, token.strip())
        if channel is None:
            raise RequestError(
                401,
                "unauthorized",
                "send 'Authorization: Bearer <key>' with a key from `kxt apikeys create`",
                {"www-authenticate": "Bearer"},
            )
        return channel

    async def _consent(self, code_name: str) -> str:
        consent = await get_consent(self.tracker.store, code_name)
        if consent is None:
            raise RequestError(404, "unknown_consent", f"no consent {code_name!r}")
        return consent.code_name

    async def _activities(self, channel: Channel, raw: Any) -> Response:
        body = object_fields(raw, _HEADLESS)
        named = body.get("channel")
        if not isinstance(named, str):
            raise RequestError(422, "invalid_body", "channel (the channel's GUID) is required")
        if named.lower() not in (str(channel.guid), channel.name.lower()):
            raise RequestError(403, "wrong_channel", "the API key belongs to another channel")
        contact = _guid(body.get("contact"), "contact")
        source = ActivitySource.HEADLESS
        items = activity_list(body, source)
        # The agreement is checked in the transaction that stores the activities. An erased
        # contact is answered 410 (never stored), so the app learns to create a new contact
        # instead of asking for consent again.
        consent = self.tracking_consent if self.require_consent else None
        valid, refused = read_valid(items, source, self.tracker, site=channel.name)
        results = await _overload_safe(self.tracker.log(Contact(contact), valid, consent=consent))
        if not refused and set(map(_STATUS, results)) == _ONLY_LOGGED:  # one C loop
            return _all_logged(list(map(_ACTIVITY_ID, results)))
        if not refused:
            return _answers(list(map(_answer, results)))
        logged = iter(results)
        pieces = [
            _refused(refused[at]) if at in refused else _answer(next(logged))
            for at in range(len(items))
        ]
        return _answers(pieces)


async def _overload_safe(work: Any) -> Any:
    try:
        return await work
    except StoreOverloadedError as exc:
        raise overloaded(exc) from None


# The answers as JSONResponse would encode them, built from pieces: when every activity was
# stored, one join of their ids; else one piece an activity (the same for each status but
# "stored", which wraps the activity's id).
_STORED = str(_RESULT_STATUS[LogStatus.LOGGED])
_LOGGED_FIRST = '{"results":[{"status":' + _STORED + ',"id":"'
_LOGGED_NEXT = '"},{"status":' + _STORED + ',"id":"'


def _all_logged(ids: list[str]) -> Response:
    body = _LOGGED_FIRST + _LOGGED_NEXT.join(ids) + '"}]}'
    return Response(body.encode(), status_code=207, media_type="application/json")


def _answers(pieces: list[str]) -> Response:
    body = '{"results":[' + ",".join(pieces) + "]}"
    return Response(body.encode(), status_code=207, media_type="application/json")


def _encoded(answer: dict[str, Any]) -> str:
    """``answer`` as JSONResponse encodes it."""
    return json.dumps(answer, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


_NOT_STORED = {
    status: _encoded({"status": code, "error": status.value, "detail": LogResult(status).reason})
    for status, code in _RESULT_STATUS.items()
    if status is not LogStatus.LOGGED
}


def _answer(result: LogResult) -> str:
    if result.status is LogStatus.LOGGED:
        return '{"status":' + _STORED + ',"id":"' + str(result.activity_id) + '"}'
    return _NOT_STORED[result.status]


def _refused(entry: Invalid) -> str:
    return _encoded({"status": 400, "error": "invalid_activity", "detail": entry.reason})


def _guid(value: Any, name: str) -> uuid.UUID:
    if value is None:
        raise RequestError(422, "invalid_body", f"{name} is missing: send the contact's GUID")
    try:
        return uuid.UUID(value)
    except (TypeError, ValueError, AttributeError):
        raise RequestError(422, "invalid_body", f"{name} must be a GUID") from None


def allowed_origins(origins: Sequence[str]) -> frozenset[str]:
    """Check and normalize CORS origins (``scheme://host[:port]``, no path)."""
    checked = set()
    for origin in origins:
        if not re.fullmatch(r"https?://[^/\s]+", origin):
            raise ValueError(
                f"{origin!r} is not an origin: use scheme://host[:port], e.g. https://app.example"
            )
        checked.add(origin.lower())
    return frozenset(checked)
