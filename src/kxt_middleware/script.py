"""The browser script: kxt.js minified and versioned, and the tag helper that puts it on a page."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import rjsmin  # type: ignore[import-untyped]
from markupsafe import Markup, escape
from starlette.requests import HTTPConnection

from .visitor import tracking_logger

# ECMAScript reserved words that keyword.kwlist (Python's) does not cover.
_JS_RESERVED = frozenset(
    "break case catch class const continue debugger default delete do else enum export extends "
    "false finally for function if import in instanceof new null return super switch this throw "
    "true try typeof var void while with yield let static implements interface package private "
    "protected public await arguments eval undefined NaN Infinity".split()
)
# Properties of window a page or kxt.js itself needs: `window[name] = kxt` would navigate
# (location), break the page (open, alert, fetch, JSON...) or silently not happen (read-only:
# document, navigator, top...).
_WINDOW_PROPERTIES = frozenset(
    "window self top parent frames opener closed length name status origin location history "
    "document navigator screen crypto performance localStorage sessionStorage indexedDB caches "
    "customElements frameElement external event globalThis console alert confirm prompt open "
    "close print focus blur stop postMessage fetch XMLHttpRequest setTimeout setInterval "
    "clearTimeout clearInterval queueMicrotask requestAnimationFrame JSON Promise Object Array "
    "String Number Boolean Symbol Function Error TypeError Math Date RegExp Blob URL "
    "Uint8Array TextEncoder Response Request Headers onerror onload onunload onbeforeunload "
    "onpagehide onmessage onpopstate onhashchange".split()
)
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]{0,63}")


def validate_function_name(name: str) -> str:
    """Return ``name`` if it can be a global JavaScript function name; ValueError otherwise."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name) or name in _JS_RESERVED:
        raise ValueError(
            f"logging_function_name {name!r} is not a usable JavaScript identifier: use letters, "
            "digits, '_' or '$' (not first a digit, at most 64), and not a reserved word, "
            "e.g. 'customActivityTracker'"
        )
    if name in _WINDOW_PROPERTIES:
        raise ValueError(
            f"logging_function_name {name!r} is a property of window that the page or the "
            "tracking script needs (assigning the function to it would break the page or "
            "navigate away): choose another name, e.g. 'customActivityTracker'"
        )
    return name


def _source(name: str) -> str:
    packaged = resources.files("kxt_middleware") / "static" / name
    if packaged.is_file():
        return packaged.read_text("utf-8")
    # A source checkout (editable install): the scripts live at the top of the repository.
    checkout = Path(__file__).resolve().parents[2] / "js" / name
    if checkout.is_file():
        return checkout.read_text("utf-8")
    raise FileNotFoundError(f"{name} is missing from the installed package; reinstall it")


@dataclass(frozen=True)
class TrackingScript:
    """kxt.js as served: minified, gzipped, named by a hash of its content."""

    minified: bytes

    @classmethod
    def from_source(cls, source: str | None = None, *, name: str = "kxt.js") -> TrackingScript:
        """Minify ``source`` (default: the packaged script ``name``)."""
        minified: str = rjsmin.jsmin(_source(name) if source is None else source)
        return cls(minified.encode("utf-8"))

    @cached_property
    def gzipped(self) -> bytes:
        """The minified script, gzip-compressed (what most browsers download)."""
        return gzip.compress(self.minified, 9, mtime=0)

    @cached_property
    def version(self) -> str:
        """A short hash of the content: a new script gets a new URL."""
        return hashlib.sha256(self.minified).hexdigest()[:16]

    @property
    def filename(self) -> str:
        """The versioned file name, e.g. ``kxt.3f2a9c1d0b4e5a6f.js``."""
        return f"kxt.{self.version}.js"

    @cached_property
    def integrity(self) -> str:
        """The Subresource Integrity value of the served bytes."""
        return "sha384-" + base64.b64encode(hashlib.sha384(self.minified).digest()).decode()


# Added to the stub for a consenting visitor: if the page is left before kxt.js has run (a
# link clicked while the async script still loads), the custom activities still waiting in the
# stub's queue go out as beacons, 20 per request, and leave the queue (a page restored from the
# back/forward cache must not send them twice). A queued consentrevoke wins: then only the
# revocation is sent, as kxt.js would have done. Once kxt.js runs, the function has no queue and
# this does nothing. $W$ is the function, $E$ the browser endpoints' base (a JSON string).
_SEND_ON_LEAVE = (
    'addEventListener("pagehide",function(){var f=$W$,q=f.q,a=[],k=[],c=crypto,n=navigator,'
    's=function(v){return v==null?"":""+v},i;if(!q)return;for(i=0;i<q.length;i++)'
    'if(q[i][0]=="consentrevoke"){n.sendBeacon($E$+"/consent",\'{"agree":false}\')&&(f.q=[]);'
    "return}for(i=0;i<q.length;i++)"
    'q[i][0]=="customactivity"?a.push({id:c.randomUUID?c.randomUUID():'
    "([1e7]+-1e3+-4e3+-8e3+-1e11).replace(/[018]/g,function(d){return(d^c.getRandomValues("
    "new Uint8Array(1))[0]&15>>d/4).toString(16)}),type:s((q[i][1]||{}).type),"
    "value:s((q[i][1]||{}).value),title:s((q[i][1]||{}).title),url:location.href,"
    "referrer:document.referrer}):k.push(q[i]);for(i=0;i<a.length;i+=20)"
    'if(!n.sendBeacon($E$+"/activities",JSON.stringify({activities:a.slice(i,i+20)})))return;'
    "f.q=k});"
)


def stub(function_name: str, *, send_on_leave: str | None = None) -> str:
    """The inline queue stub: calls made before the script loads wait in ``name.q``.

    With ``send_on_leave`` (the browser endpoints' base, ``{prefix}/browser``), custom activities
    still queued when the page is left before the script ran are sent as beacons (for
    consenting visitors), or only the revocation if one is queued.
    """
    name = validate_function_name(function_name)
    w = f"window.{name}"
    queue = f"{w}={w}||function(){{({w}.q={w}.q||[]).push(arguments)}};"
    if send_on_leave is None:
        return queue
    endpoint = json.dumps(send_on_leave).replace("</", "<\\/")
    return queue + _SEND_ON_LEAVE.replace("$W$", w).replace("$E$", endpoint)


def _attributes(**values: Any) -> str:
    return "".join(
        f' {name.replace("_", "-")}="{escape(value)}"'
        for name, value in values.items()
        if value is not None
    )


def activity_logging_script(
    request: HTTPConnection,
    *,
    log_page_visit: bool = True,
    log_custom_activity: bool = True,
    logging_function_name: str = "kxt",
    nonce: str | None = None,
    inline: bool = True,
    integrity: bool = False,
) -> Markup:
    """The ``<script>`` tags that load kxt.js; put them at the end of ``<head>``.

    ``logging_function_name`` renames the global function (for pages where another script owns
    ``kxt``). With ``nonce`` every script tag carries it (strict CSP); ``inline=False`` emits no
    inline script at all (the external one then runs synchronously, so later scripts can call the
    function at once). ``integrity=True`` adds a Subresource Integrity hash.
    """
    name = validate_function_name(logging_function_name)
    logger = tracking_logger(request, "render the activity logging script")
    browser = logger.browser
    assert browser is not None, "the activity logging script needs the middleware's endpoints"
    base = request.scope.get("root_path", "") + browser.prefix
    external = _attributes(
        src=f"{base}/{browser.script.filename}",
        data_fn=name,
        data_endpoint=f"{base}/browser",
        data_level=int(logger.visitor.level),
        data_pv=int(log_page_visit),
        data_ca=int(log_custom_activity),
        nonce=nonce,
        integrity=browser.script.integrity if integrity else None,
        crossorigin="anonymous" if integrity else None,
    )
    if not inline:
        return Markup(f"<script{external}></script>")
    # The stub sends what waits in its queue if the page is left before kxt.js has run; only
    # for a visitor who consents (nothing is ever sent below Visitor).
    leave = (
        f"{base}/browser" if log_custom_activity and logger.visitor.level.allows_tracking else None
    )
    return Markup(
        f"<script{_attributes(nonce=nonce)}>{stub(name, send_on_leave=leave)}</script>"
        f"<script async{external}></script>"
    )


def add_to_templates(templates: Any) -> None:
    """Make ``activity_logging_script(request, ...)`` a global of a Jinja2Templates instance."""
    templates.env.globals["activity_logging_script"] = activity_logging_script
