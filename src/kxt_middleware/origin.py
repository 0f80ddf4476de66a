"""Whether a request was made by a page of another site (a consent form must refuse those)."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection


def other_site(headers: Headers) -> str | None:
    """The other site a request came from (``Sec-Fetch-Site`` or ``Origin``), else None.

    ``Sec-Fetch-Site`` is the browser's own word and pages cannot set it, so when it is there it
    decides alone: a reverse proxy that rewrites ``Host`` does not make our pages "another site".
    Without it (older browsers), ``Origin`` must name the host the browser asked for: ``Host``,
    or one of the hosts in ``X-Forwarded-Host`` (a page of another site cannot add that header
    to a request without a CORS preflight, which these endpoints never grant).
    """
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return None if fetch_site in ("same-origin", "none") else fetch_site
    origin = headers.get("origin")
    if origin is None:
        return None
    scheme, _, netloc = origin.lower().partition("://")
    default_port = {"http": ":80", "https": ":443"}.get(scheme, "")
    hosts = [headers.get("host", ""), *headers.get("x-forwarded-host", "").split(",")]
    ours = {host.strip().lower().removesuffix(default_port) for host in hosts} - {""}
    return None if netloc.removesuffix(default_port) in ours else origin


def is_cross_site_request(request: HTTPConnection) -> bool:
    """True when a page of another site made this request.

    Check it in your own consent endpoints: a form on another site must not be able to switch
    tracking on (SameSite=Lax cookies don't stop a cross-site form POST from being received).
    """
    return other_site(request.headers) is not None
