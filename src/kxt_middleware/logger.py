"""The request-scoped activity logger (the counterpart of ICustomActivityLogger)."""

from __future__ import annotations

from starlette.datastructures import URL
from starlette.types import Scope

from .activities import CustomActivityData, LogResult, NewActivity
from .tracking import ActivityTracker
from .visitor import Visitor


class ActivityLogger:
    """Logs activities for the contact of one request, from server code."""

    __slots__ = ("tracker", "visitor", "scope", "finished")

    def __init__(
        self,
        tracker: ActivityTracker,
        visitor: Visitor,
        scope: Scope,
    ) -> None:
        self.tracker = tracker
        self.visitor = visitor
        self.scope = scope
        self.finished = False

    @property
    def url(self) -> str:
        """The URL of the request (recorded with activities logged from server code)."""
        return request_url(self.scope)

    @property
    def referrer(self) -> str:
        """The request's Referer header, or an empty string."""
        return request_referrer(self.scope)

    async def log(self, activity_type: str, data: CustomActivityData | None = None) -> LogResult:
        """Log one activity of ``activity_type`` for the current contact.

        Returns once the activity is committed to disk (or says why it was not logged: no
        consent, type disabled, type unknown). Raises ValueError for an invalid code name.
        """
        data = data or _NO_DATA
        url = request_url(self.scope) if data.url is None else data.url
        referrer = request_referrer(self.scope) if data.referrer is None else data.referrer
        # Positional: a class called with keywords costs twice as much.
        activity = NewActivity(activity_type, data.title, data.value, url, referrer)
        [result] = await self.tracker.log_for_visitor(self.visitor, [activity])
        return result


_NO_DATA = CustomActivityData()


def request_referrer(scope: Scope) -> str:
    """The Referer header of the request of ``scope``, or an empty string."""
    name: bytes
    value: bytes
    for name, value in scope["headers"]:
        if name == b"referer":
            return value.decode("latin-1")
    return ""


# The URLs of recent requests, by what Starlette builds them from: a site logs from the same
# few pages again and again, and building a URL (host header parsing, quoting) costs more than
# the rest of a log() call on the event loop.
_URLS: dict[tuple[object, ...], str] = {}
_URLS_MAX = 2048


def request_url(scope: Scope) -> str:
    """``str(request.url)`` for ``scope``, remembered for the most recent distinct requests."""
    host = b""
    name: bytes
    value: bytes
    for name, value in scope["headers"]:
        if name == b"host":
            host = value
            break
    server = scope.get("server")
    key = (
        scope.get("scheme", "http"),
        host,
        None if server is None else tuple(server),  # ASGI allows a list
        scope["path"],
        scope.get("query_string", b""),
    )
    url = _URLS.get(key)
    if url is None:
        url = str(URL(scope=scope))
        if len(_URLS) >= _URLS_MAX:
            del _URLS[next(iter(_URLS))]  # the oldest entry
        _URLS[key] = url
    return url
