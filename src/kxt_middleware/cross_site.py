"""Cross-site tracking: registered external sites log activities for the main site's contacts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers, QueryParams
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from .activities import ActivitySource
from .browser import log_page_activities, page_consent, serve_script
from .hand_over import TOKEN_PARAMETER, HandOver, HandOverRefused, HandOverSigner, ReadHandOver
from .intake import RULES
from .logger import ActivityLogger
from .origin import other_site
from .script import TrackingScript, built_script, fill, validate_function_name
from .sites import Site, enabled_site_for_origin, normalize_origin, sites
from .storage import Store
from .web import RequestError, allow_methods, allow_origin, log, preflight, read_json

_MAX_BODY = RULES[ActivitySource.CROSS_SITE].max_body or 0
# A cookie with no identifier, set with kxt-cs.js: when init brings no cookie at all, not even
# this one, the browser does not send the main site's cookies from the external site.
PROBE_COOKIE = "KxtCookieProbe"
PROBE_MAX_AGE = 24 * 60 * 60
# Seconds the main site's pages may keep offering hand-overs to a site just disabled.
ORIGINS_REFRESH = 30


class SiteOrigins:
    """The enabled registered sites' origins, for the main site's script tag (re-read each
    ``ORIGINS_REFRESH`` seconds: pages learn of a site added or disabled elsewhere that late)."""

    def __init__(self) -> None:
        self._origins: tuple[str, ...] = ()
        self._due = 0.0

    async def current(self, store: Store) -> tuple[str, ...]:
        """The origins links may be handed over to."""
        now = time.monotonic()
        if now >= self._due:
            self._due = now + ORIGINS_REFRESH
            try:
                registered = await sites(store)
            except Exception:
                # The site's pages must render all the same: they offer the origins read last.
                log.warning(
                    "could not read the registered sites; trying again in 30 s", exc_info=True
                )
                return self._origins
            self._origins = tuple(site.origin for site in registered if site.enabled)
        return self._origins


@dataclass(frozen=True)
class CrossSiteTracking:
    """Serves kxt-cs.js, hands visitors over to registered sites, and answers credentialed
    CORS requests from enabled registered sites."""

    prefix: str
    script: TrackingScript  # kxt-cs.js, for the external sites' pages
    signer: HandOverSigner
    # kxt-handover.js, for the main site's pages
    handover_script: TrackingScript = field(
        default_factory=lambda: TrackingScript.from_source(name="kxt-handover.js")
    )
    origins: SiteOrigins = field(default_factory=SiteOrigins)

    async def handle(
        self, route: str, logger: ActivityLogger, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Answer one request for ``route`` (the path below the prefix)."""
        headers = Headers(scope=scope)
        site: Site | None = None
        try:
            if route == "/kxt-cs.js":
                allow_methods(scope["method"], "GET", "HEAD")
                response = serve_script(self.script, headers, versioned=False)
                probe_cookie(response, f"{scope.get('root_path', '')}{self.prefix}/cross-site/")
            elif route == "/kxt-handover.js":
                allow_methods(scope["method"], "GET", "HEAD")
                response = serve_script(self.handover_script, headers, versioned=False)
            elif route == "/cross-site/handover":
                response = await self._hand_over(logger, scope, headers)
            else:
                site = await self._site(logger, headers)
                response = await self._dispatch(route, site, logger, scope, receive, headers)
        except RequestError as refused:
            response = refused.response()
        # Only an enabled registered origin may read answers and send the visitor's cookies.
        origin = headers["origin"] if site is not None else None
        allow_origin(response, origin, credentials=True, expose="retry-after")
        await response(scope, receive, send)

    async def _site(self, logger: ActivityLogger, headers: Headers) -> Site:
        origin = headers.get("origin")
        site = (
            None if origin is None else await enabled_site_for_origin(logger.tracker.store, origin)
        )
        if site is None:
            raise RequestError(
                403,
                "site_not_allowed",
                f"{origin} is not an enabled registered site; register it with `kxt sites add`",
            )
        return site

    async def _dispatch(
        self,
        route: str,
        site: Site,
        logger: ActivityLogger,
        scope: Scope,
        receive: Receive,
        headers: Headers,
    ) -> Response:
        method = scope["method"]
        if method == "OPTIONS":
            return preflight("POST", "content-type")
        allow_methods(method, "POST")
        body = await read_json(scope, receive, headers, _MAX_BODY)
        fields = body if isinstance(body, dict) else {}
        visitor = logger.visitor
        if route == "/cross-site/init":
            return await self._init(fields, site, logger, headers)
        await self._identify(fields, site, logger)
        if route == "/cross-site/consent":
            return page_consent(logger, body)
        if route == "/cross-site/activities":
            agreed = isinstance(body, dict) and body.get("agreed") is True
            if agreed and not visitor.level.allows_tracking:
                # The page saw the visitor agree, yet the consent cookie did not come back.
                raise RequestError(
                    409,
                    "cookies_blocked",
                    "the browser does not send the main site's cookies from this site "
                    "(third-party cookies are blocked)",
                )
            return await log_page_activities(
                logger,
                body,
                source=ActivitySource.CROSS_SITE,
                site=site.code_name,
            )
        raise RequestError(404, "not_found", f"no tracking endpoint at {self.prefix}{route}")

    async def _hand_over(self, logger: ActivityLogger, scope: Scope, headers: Headers) -> Response:
        """Send a main-site visitor on to a registered site's page, with a hand-over token when
        the visitor is at Visitor level or above (without one otherwise: the link still works)."""
        allow_methods(scope["method"], "GET", "HEAD")
        target = QueryParams(scope["query_string"]).get("to", "")
        site = await self._target_site(logger.tracker.store, target)
        visitor = logger.visitor
        location = target
        # Only a page of the main site sends visitors here: a link on another site gets no token.
        if visitor.level.allows_tracking and other_site(headers) is None:
            contact = visitor.contact()
            if contact is not None:
                token = self.signer.token(HandOver(site.origin, contact.guid, visitor.level))
                location = with_token(target, token)
        # The token must not be kept by a cache, nor the answer shared between visitors.
        return Response(
            status_code=303, headers={"location": location, "cache-control": "no-store"}
        )

    async def _target_site(self, store: Store, target: str) -> Site:
        """The enabled site a hand-over's ``to`` URL leads to; 400 for anything else (no open
        redirect)."""
        parts = urlsplit(target) if target.isascii() and target.isprintable() else None
        site = None
        if parts is not None and " " not in target and parts.scheme and parts.netloc:
            site = await enabled_site_for_origin(store, f"{parts.scheme}://{parts.netloc}")
        if site is None:
            raise RequestError(
                400,
                "handover_target_not_allowed",
                f"{target!r} is not a page of an enabled registered site; hand-overs lead only "
                "to sites registered with `kxt sites add`",
            )
        return site

    async def _check(self, text: Any, read: ReadHandOver, site: Site, store: Store) -> HandOver:
        """The hand-over ``text`` carries to ``site``; 403 when refused (also when its contact
        was erased)."""
        try:
            hand_over = read(text, site.origin)
        except HandOverRefused as refused:
            raise RequestError(403, refused.error, refused.detail) from None
        if await store.is_erased(hand_over.contact):
            raise RequestError(
                403,
                "handover_erased",
                "the contact this hand-over names was erased (its consent was withdrawn); "
                "it is never tracked again",
            )
        return hand_over

    async def _identify(self, fields: dict[str, Any], site: Site, logger: ActivityLogger) -> None:
        """Name the visitor by the token or credential the body carries (when its cookies name
        no one); 403 when it is refused."""
        store = logger.tracker.store
        token, credential = fields.get("handover"), fields.get("credential")
        if token is not None:
            hand_over = await self._check(token, self.signer.read_token, site, store)
        elif credential is not None:
            hand_over = await self._check(credential, self.signer.read_credential, site, store)
        else:
            return
        logger.visitor.adopt(hand_over.contact, hand_over.level)

    async def _init(
        self, fields: dict[str, Any], site: Site, logger: ActivityLogger, headers: Headers
    ) -> Response:
        """The visitor's level, named by a hand-over token (exchanged for a credential), else by
        the page's credential, else by cookies; ``blocked`` when none of them names the visitor.

        A refused token or credential is answered 403 with its error, yet with the rest of the
        answer too (the level the page may go on with); ``"credential": null`` tells the page to
        drop a refused credential.
        """
        store = logger.tracker.store
        answer: dict[str, Any] = {}
        refused: RequestError | None = None
        hand_over: HandOver | None = None
        token, credential = fields.get("handover"), fields.get("credential")
        if token is not None:
            try:
                hand_over = await self._check(token, self.signer.read_token, site, store)
                answer["credential"] = self.signer.credential(hand_over)
            except RequestError as error:
                refused = error
        if hand_over is None and credential is not None:
            try:
                hand_over = await self._check(credential, self.signer.read_credential, site, store)
            except RequestError as error:
                refused = refused or error
                answer["credential"] = None
        if hand_over is not None:
            logger.visitor.adopt(hand_over.contact, hand_over.level)
        answer["level"] = int(logger.visitor.level)
        # kxt-cs.js came with a probe cookie: no cookie at all means the browser withholds them.
        if hand_over is None and "cookie" not in headers:
            answer["blocked"] = True
        if refused is not None:
            return JSONResponse({"error": refused.error, "detail": refused.detail} | answer, 403)
        return JSONResponse(answer)


def probe_cookie(response: Response, path: str) -> None:
    """Set the probe cookie on kxt-cs.js: if init brings it back, cookies reach the main site."""
    response.set_cookie(
        PROBE_COOKIE, "1", max_age=PROBE_MAX_AGE, path=path, secure=True, httponly=True,
        samesite="none",
    )  # fmt: skip


def with_token(url: str, token: str) -> str:
    """``url`` with the hand-over token as a query parameter (before any fragment)."""
    base, hash_sign, fragment = url.partition("#")
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}{TOKEN_PARAMETER}={token}{hash_sign}{fragment}"


def cross_site_snippet(
    main_site_url: str, *, prefix: str = "/Kentico.Tracking", logging_function_name: str = "kxt"
) -> str:
    """The copy-paste snippet for an external site's pages (before ``</body>`` or in ``<head>``).

    It defines a queue stub under ``logging_function_name``, loads kxt-cs.js from the main site,
    and logs a page visit; the page can then call ``kxt('click', {label})``,
    ``kxt('customactivity', {type, value})``, ``kxt('consentagree')``, ``kxt('consentrevoke')``
    and ``kxt('onerror', fn)``.
    """
    main = normalize_origin(main_site_url)
    name = validate_function_name(logging_function_name)
    # The loader is built from js/src/cross-site-snippet.js; the calls after it are the page's.
    loader = fill(
        built_script("cross-site-snippet.js"),
        FUNCTION_NAME=name,
        SCRIPT_URL=f"{main}{prefix}/kxt-cs.js",
    )
    return (
        f"<script>\n{loader}\n"
        f"{name}('init', {{mainSiteUrl: '{main}'}});\n"
        f"{name}('pagevisit');\n"
        "</script>"
    )
