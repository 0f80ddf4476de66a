"""The headless tracking API (Kentico-compatible paths and bodies), with consent enforced."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from .activities import ActivitySource, LogResult, LogStatus, NewActivity
from .activity_types import BUILT_IN_TYPES
from .api_keys import Channel, authenticate
from .browser import RequestError, allow_methods, read_json
from .consents import consent_json, get_consent, has_agreed, set_agreement
from .errors import ContactErasedError, StoreOverloadedError
from .openapi import openapi_document
from .tracking import ActivityTracker
from .visitor import Contact

_CONTACT_CONSENT = re.compile(r"/contacts/([^/]+)/consents/([^/]+)")
_CONSENT = re.compile(r"/consents/([^/]+)")
# The reference's per-type rules: what each built-in type needs; other built-ins are refused.
_REQUIRED = {"pagevisit": "url", "click": "value", "datainput": "value"}
_BUILT_IN = frozenset(t.code_name for t in BUILT_IN_TYPES)
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
    max_body: int = 256 * 1024
    max_activities: int = 100

    async def handle(self, route: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request for ``route`` (the path below the prefix)."""
        headers = Headers(scope=scope)
        try:
            response = await self._dispatch(route, scope, receive, headers)
        except RequestError as refused:
            response = refused.response()
        origin = headers.get("origin")
        if origin is not None and origin in self.cors_origins:
            response.headers["access-control-allow-origin"] = origin
            response.headers["access-control-expose-headers"] = "www-authenticate"
        response.headers.append("vary", "Origin")
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
                body = _lower(await read_json(scope, receive, headers, self.max_body))
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
        body = await read_json(scope, receive, headers, self.max_body)
        return await self._activities(channel, body)

    def _preflight(self, headers: Headers) -> Response:
        origin = headers.get("origin")
        if origin is None or origin not in self.cors_origins:
            raise RequestError(403, "origin_not_allowed", f"{origin} may not call this API")
        return Response(
            status_code=204,
            headers={
                "access-control-allow-methods": "GET, POST",
                "access-control-allow-headers": "authorization, content-type",
                "access-control-max-age": "600",
            },
        )

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
        body = _lower(raw)
        named = body.get("channel")
        if not isinstance(named, str):
            raise RequestError(422, "invalid_body", "channel (the channel's GUID) is required")
        if named.lower() not in (str(channel.guid), channel.name.lower()):
            raise RequestError(403, "wrong_channel", "the API key belongs to another channel")
        contact = _guid(body.get("contact"), "contact")
        items = body.get("activities")
        if not isinstance(items, list) or not items:
            raise RequestError(422, "invalid_body", "activities must be a non-empty list")
        if len(items) > self.max_activities:
            raise RequestError(
                413,
                "too_many_activities",
                f"{len(items)} activities in one request; at most {self.max_activities}",
            )
        results: list[dict[str, Any] | None] = []
        valid: list[NewActivity] = []
        for item in items:
            try:
                valid.append(_activity(item, channel))
                results.append(None)
            except ValueError as exc:
                results.append({"status": 400, "error": "invalid_activity", "detail": str(exc)})
        # The agreement is checked in the transaction that stores the activities. An erased
        # contact is answered 410 (never stored), so the app learns to create a new contact
        # instead of asking for consent again.
        consent = self.tracking_consent if self.require_consent else None
        logged = iter(
            await _overload_safe(self.tracker.log(Contact(contact), valid, consent=consent))
        )
        answers = [answer or _answer(next(logged)) for answer in results]
        return JSONResponse({"results": answers}, status_code=207)


async def _overload_safe(work: Any) -> Any:
    try:
        return await work
    except StoreOverloadedError as exc:
        raise RequestError(503, "overloaded", str(exc)) from None


def _answer(result: LogResult) -> dict[str, Any]:
    answer: dict[str, Any] = {"status": _RESULT_STATUS[result.status]}
    if result.logged:
        answer["id"] = result.activity_id
    else:
        answer["error"] = result.status.value
        answer["detail"] = result.reason
    return answer


def _activity(item: Any, channel: Channel) -> NewActivity:
    if not isinstance(item, Mapping):
        raise ValueError("an activity must be an object")
    fields = _lower(item)
    texts: dict[str, str] = {}
    for name in ("type", "value", "url", "referrer", "title"):
        value = fields.get(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string")
        texts[name] = value
    code = texts["type"].lower()
    if code in _BUILT_IN and code not in _REQUIRED:
        raise ValueError(f"{code} cannot be logged through the API")
    needed = _REQUIRED.get(code)
    if needed and not texts[needed]:
        raise ValueError(f"a {code} activity needs a {needed}")
    return NewActivity(
        type=code if code in _BUILT_IN else texts["type"],
        title=texts["title"],
        value=texts["value"],
        url=texts["url"],
        referrer=texts["referrer"],
        source=ActivitySource.HEADLESS,
        site=channel.name,
    )


def _lower(body: Any) -> dict[str, Any]:
    """The object's properties with names lower-cased (the reference's examples capitalize)."""
    if not isinstance(body, Mapping):
        raise RequestError(422, "invalid_body", "the body must be a JSON object")
    return {str(key).lower(): value for key, value in body.items()}


def _guid(value: Any, name: str) -> uuid.UUID:
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
