"""Whether a request was made by a page of another site (a consent form must refuse those)."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection


def other_site(headers: Headers) -> str | None:
    """The other site a request came from (``Sec-Fetch-Site`` or ``Origin``), else None."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return fetch_site
    origin = headers.get("origin")
    if origin is not None:
        host = headers.get("host", "")
        scheme, _, netloc = origin.partition("://")
        default_port = {"http": ":80", "https": ":443"}.get(scheme, "")
        if netloc.removesuffix(default_port) != host.removesuffix(default_port):
            return origin
    return None


def is_cross_site_request(request: HTTPConnection) -> bool:
    """True when a page of another site made this request.

    Check it in your own consent endpoints: a form on another site must not be able to switch
    tracking on (SameSite=Lax cookies don't stop a cross-site form POST from being received).
    """
    return other_site(request.headers) is not None
