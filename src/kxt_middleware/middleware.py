"""ActivityTrackingMiddleware: pure ASGI middleware giving each request a visitor and a logger."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .activity_types import ActivityType, validate_code_name
from .browser import BrowserTracking
from .context import current_logger
from .cookie_level import CookieLevel
from .cookies import SameSite, SignedCookie
from .cross_site import CrossSiteTracking
from .errors import StoreOverloadedError
from .groups import ContactGroup, install_contact_groups
from .hand_over import TOKEN_MAX_AGE, HandOverSigner
from .headless import HeadlessApi, allowed_origins
from .logger import ActivityLogger
from .request_state import ENDED, SCOPE_KEY, RequestState
from .script import TrackingScript
from .storage import Store, Synchronous, open_store
from .tracking import ActivityTracker
from .visitor import Visitor, VisitorCookies
from .web import overloaded

ONE_YEAR = 365 * 24 * 60 * 60
_CROSS_SITE_ROUTES = ("/cross-site/", "/kxt-cs.", "/kxt-handover.")


class ActivityTrackingMiddleware:
    """Consent-aware activity tracking for an ASGI app.

    Reads the visitor's signed cookie level and contact cookies, exposes a request-scoped
    activity logger, writes cookies back on the response, and opens and closes the activity
    store with the app's lifespan (or lazily, on first use, when lifespan is off).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret_key: str | Sequence[str],
        database: str | os.PathLike[str] = "kxt.sqlite3",
        activity_types: Iterable[ActivityType] = (),
        contact_groups: Iterable[ContactGroup] = (),
        default_cookie_level: CookieLevel | int = CookieLevel.ESSENTIAL,
        honor_global_privacy_control: bool = True,
        cookie_level_cookie: str = "CMSCookieLevel",
        contact_cookie: str = "CurrentContact",
        cookie_level_max_age: int = ONE_YEAR,
        contact_max_age: int = 2 * ONE_YEAR,
        same_site: SameSite = "lax",
        https_only: bool = False,
        domain: str | None = None,
        path: str = "/",
        landing_page_cookie: str = "CMSLandingPageLoaded",
        visit_length: int = 20 * 60,
        prefix: str = "/Kentico.Tracking",
        erase_on_revoke: bool = True,
        tracking_consent: str = "tracking",
        headless_requires_consent: bool = True,
        headless_origins: Sequence[str] = (),
        cross_site_tracking: bool = False,
        handover_max_age: int = TOKEN_MAX_AGE,
        max_pending: int = 10_000,
        synchronous: Synchronous = "FULL",
        store: Store | None = None,
    ) -> None:
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ValueError(f"prefix {prefix!r} must start with '/' and not end with '/'")
        if cross_site_tracking and (same_site != "none" or not https_only):
            raise ValueError(
                "cross_site_tracking needs same_site='none' and https_only=True: browsers send "
                "the contact's cookies with requests from another site only then"
            )
        self.app = app
        self.erase_on_revoke = erase_on_revoke

        def cookie(name: str, salt: str, max_age: int) -> SignedCookie:
            return SignedCookie(
                name,
                secret_key=secret_key,
                salt=salt,
                max_age=max_age,
                same_site=same_site,
                https_only=https_only,
                domain=domain,
                path=path,
            )

        self.cookies = VisitorCookies(
            level=cookie(cookie_level_cookie, "kxt.cookie-level", cookie_level_max_age),
            contact=cookie(contact_cookie, "kxt.current-contact", contact_max_age),
            landing_page=cookie(landing_page_cookie, "kxt.landing-page", visit_length),
            default_level=CookieLevel.parse(default_cookie_level),
            honor_global_privacy_control=honor_global_privacy_control,
        )
        self.store = store or open_store(database, max_pending=max_pending, synchronous=synchronous)
        # Also for a shared store: the types are created (when absent) as it opens.
        self.activity_types = self.store.include_activity_types(activity_types)
        # Memberships are re-evaluated in the same commit as a contact's new activities (also
        # for groups created later in the admin).
        install_contact_groups(self.store, contact_groups)
        self.tracker = ActivityTracker(self.store)
        self.prefix = prefix
        self.browser = BrowserTracking(prefix=prefix, script=TrackingScript.from_source())
        # A hand-over token lives minutes; the credential an external page keeps for it lives
        # as long as a contact cookie.
        signer = HandOverSigner(
            secret_key, token_max_age=handover_max_age, credential_max_age=contact_max_age
        )
        self.cross_site = (
            CrossSiteTracking(prefix, TrackingScript.from_source(name="kxt-cs.js"), signer)
            if cross_site_tracking
            else None
        )
        self.headless = HeadlessApi(
            prefix=prefix,
            tracker=self.tracker,
            tracking_consent=validate_code_name(tracking_consent),
            require_consent=headless_requires_consent,
            erase_on_revoke=erase_on_revoke,
            cors_origins=allowed_origins(headless_origins),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._lifespan_send(send))
            return
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        visitor = Visitor(self.cookies, scope)
        # Everything below is lazy: a request that does not track pays for two small objects.
        logger = ActivityLogger(self.tracker, visitor, scope)
        route = _below(scope, self.prefix) if scope["type"] == "http" else None
        # The site's pages offer hand-overs to the registered sites (read at most every 30 s).
        origins = (
            await self.cross_site.origins.current(self.store)
            if self.cross_site is not None and route is None
            else ()
        )
        outer = scope.get(SCOPE_KEY)  # an app mounted inside another with the middleware
        scope[SCOPE_KEY] = RequestState(visitor, logger, self.prefix, self.browser.script, origins)

        async def send_with_cookies(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                visitor.response_started = True
                if visitor.revoked_contact is not None and self.erase_on_revoke:
                    # Revoking consent erases what was stored about the contact.
                    await self.store.delete_contact(visitor.revoked_contact.guid)
                cookies = visitor.set_cookie_headers()
                if cookies:
                    message.setdefault("headers", [])
                    headers = MutableHeaders(scope=message)
                    for cookie in cookies:
                        headers.append("set-cookie", cookie)
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                # What runs after the last byte (background tasks) runs after the response:
                # current_activity_logger() says so there instead of logging for it.
                logger.finished = True
            await send(message)

        token = current_logger.set(logger)
        try:
            if route is None:
                await self.app(scope, receive, send_with_cookies)
            elif route.startswith(("/browser/", "/kxt.")):
                await self.browser.handle(route, logger, scope, receive, send_with_cookies)
            elif self.cross_site and route.startswith(_CROSS_SITE_ROUTES):
                await self.cross_site.handle(route, logger, scope, receive, send_with_cookies)
            else:
                await self.headless.handle(route, scope, receive, send)
        except StoreOverloadedError as exc:
            # log() in the site's own route met a full write queue: answer as the built-in
            # endpoints do (503, Retry-After), with a log line instead of a traceback.
            if visitor.response_started or scope["type"] != "http":
                raise
            await overloaded(exc).response()(scope, receive, send_with_cookies)
        finally:
            logger.finished = True
            current_logger.reset(token)
            scope[SCOPE_KEY] = ENDED if outer is None else outer

    def _lifespan_send(self, send: Send) -> Send:
        # Open the store once the app has started and close it (flushing pending writes)
        # before the server is told shutdown is complete. An error opening is raised into the
        # app's lifespan handler, which reports startup as failed with the reason.
        async def lifespan_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                await self.store.open()
            elif message["type"] == "lifespan.shutdown.complete":
                await self.store.close()
            await send(message)

        return lifespan_send


def _below(scope: Scope, prefix: str) -> str | None:
    """The request path below ``prefix`` (after the app's root path), or None if outside it."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path[len(prefix) :] if path.startswith(prefix + "/") else None
