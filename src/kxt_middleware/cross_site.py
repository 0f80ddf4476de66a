"""Cross-site tracking: registered external sites log activities for the main site's contacts."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from .activities import ActivitySource
from .browser import log_page_activities, page_consent, serve_script
from .intake import RULES
from .logger import ActivityLogger
from .script import TrackingScript, built_script, fill, validate_function_name
from .sites import Site, enabled_site_for_origin, normalize_origin
from .web import RequestError, allow_methods, allow_origin, preflight, read_json

_MAX_BODY = RULES[ActivitySource.CROSS_SITE].max_body or 0


@dataclass(frozen=True)
class CrossSiteTracking:
    """Serves kxt-cs.js and answers credentialed CORS requests from enabled registered sites."""

    prefix: str
    script: TrackingScript

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
        visitor = logger.visitor
        if route == "/cross-site/init":
            return JSONResponse({"level": int(visitor.level)})
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
