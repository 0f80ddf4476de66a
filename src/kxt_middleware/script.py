"""The browser scripts built from js/src (versioned, gzipped) and the inline stub."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from pathlib import Path

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


@cache
def built_script(name: str) -> str:
    """The built file ``name`` (kxt.js, kxt-cs.js, stub.js, ...): nothing is minified at run time.

    ``node js/build.mjs`` builds them from js/src into js/dist; a wheel carries them as static/.
    """
    packaged = resources.files("kxt_middleware") / "static" / name
    if packaged.is_file():
        return packaged.read_text("utf-8")
    # A source checkout (editable install): the built files live at the top of the repository.
    checkout = Path(__file__).resolve().parents[2] / "js" / "dist" / name
    if checkout.is_file():
        return checkout.read_text("utf-8")
    raise FileNotFoundError(f"{name} is missing from the installed package; reinstall it")


_PLACEHOLDER = re.compile(r"\bKXT_[A-Z_]+\b")


def js_string(value: str) -> str:
    """``value`` as a JavaScript string literal that is safe inside an HTML <script> element."""
    return json.dumps(value).replace("<", "\\u003c")


def fill(template: str, **values: str) -> str:
    """A built snippet whose placeholders ``KXT_<KEY>`` become the strings ``values[key]``."""
    placeholders = set(_PLACEHOLDER.findall(template))
    wanted = {f"KXT_{key}" for key in values}
    if placeholders != wanted:
        raise ValueError(f"the snippet takes {sorted(placeholders)}, not {sorted(wanted)}")
    return _PLACEHOLDER.sub(lambda match: js_string(values[match[0][4:]]), template).strip()


@dataclass(frozen=True)
class TrackingScript:
    """A script as served: the built file, gzipped, named by a hash of its content."""

    minified: bytes

    @classmethod
    def from_source(cls, source: str | None = None, *, name: str = "kxt.js") -> TrackingScript:
        """The built script ``name`` (or ``source`` as given): already minified by js/build.mjs."""
        return cls((built_script(name) if source is None else source).encode("utf-8"))

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


def stub(function_name: str, *, send_on_leave: str | None = None) -> str:
    """The inline queue stub (js/src/stub.js): calls made before the script loads wait in ``.q``.

    With ``send_on_leave`` (the browser endpoints' base, ``{prefix}/browser``), custom activities
    still queued when the page is left before the script ran are sent as beacons (for
    consenting visitors), or only the revocation if one is queued (js/src/stub-leave.js).
    """
    name = validate_function_name(function_name)
    if send_on_leave is None:
        return fill(built_script("stub.js"), FUNCTION_NAME=name)
    return fill(built_script("stub-leave.js"), FUNCTION_NAME=name, ENDPOINT=send_on_leave)
