"""What the middleware keeps for one request, and the helpers a site calls to reach it.

The middleware puts one :class:`RequestState` on the scope under ``SCOPE_KEY``; every request
helper reads it through :func:`request_state`, which says how to install the middleware when
it is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from .errors import MiddlewareNotInstalledError, NoRequestContextError

if TYPE_CHECKING:
    from .cookie_level import CookieLevel
    from .logger import ActivityLogger
    from .script import TrackingScript
    from .visitor import Contact, Visitor

SCOPE_KEY = "kxt"
# What the scope holds once the middleware is done with the request: the state itself would keep
# the scope in a reference cycle (state -> visitor -> scope -> state) that only the garbage
# collector frees, and everything a request allocated would wait for it.
ENDED = object()


class RequestState:
    """One request's visitor and logger, and where the page script and endpoints are."""

    __slots__ = ("visitor", "logger", "prefix", "script", "handover_origins")

    def __init__(
        self,
        visitor: Visitor,
        logger: ActivityLogger,
        prefix: str,
        script: TrackingScript,
        handover_origins: tuple[str, ...] = (),
    ) -> None:
        self.visitor = visitor
        self.logger = logger
        self.prefix = prefix  # the tracking endpoints and kxt.js live under it
        self.script = script  # the kxt.js a page loads
        # Origins of the enabled registered sites that links hand visitors over to (cross-site).
        self.handover_origins = handover_origins


def request_state(connection: HTTPConnection, purpose: str) -> RequestState:
    """The request's state; MiddlewareNotInstalledError saying how to install the middleware."""
    state: RequestState | object | None = connection.scope.get(SCOPE_KEY)
    if state is ENDED:
        raise NoRequestContextError(
            f"this request's response has finished, so nothing can {purpose} for it any more: "
            "take the logger with get_activity_logger(request) while the request is handled "
            "and pass it to the work that runs later"
        )
    if not isinstance(state, RequestState):
        raise MiddlewareNotInstalledError(
            f"ActivityTrackingMiddleware must be installed to {purpose}: add "
            "Middleware(ActivityTrackingMiddleware, secret_key=...) to the app's middleware"
        )
    return state


def get_activity_logger(request: HTTPConnection) -> ActivityLogger:
    """The activity logger of this request's visitor."""
    return request_state(request, "log activities").logger


def get_cookie_level(request: HTTPConnection) -> CookieLevel:
    """The cookie level of the visitor making this request."""
    return request_state(request, "read the cookie level").visitor.level


def has_chosen_cookie_level(request: HTTPConnection) -> bool:
    """True when the visitor chose a level (accepted or declined), False while on the default."""
    return request_state(request, "know whether the visitor chose").visitor.has_chosen


def set_cookie_level(request: HTTPConnection, level: CookieLevel | int | str) -> CookieLevel:
    """Change the visitor's cookie level; below Visitor the contact cookie is deleted."""
    return request_state(request, "set the cookie level").visitor.set_level(level)


def get_current_contact(request: HTTPConnection) -> Contact | None:
    """The visitor's contact (created on first need), or None below the Visitor level."""
    return request_state(request, "know the current contact").visitor.contact()
