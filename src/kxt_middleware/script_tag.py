"""The tag helper that puts kxt.js (and its inline stub) on a page."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape
from starlette.requests import HTTPConnection

from .request_state import request_state
from .script import stub, validate_function_name


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
    state = request_state(request, "render the activity logging script")
    level = state.visitor.level
    base = request.scope.get("root_path", "") + state.prefix
    external = _attributes(
        src=f"{base}/{state.script.filename}",
        data_fn=name,
        data_endpoint=f"{base}/browser",
        data_level=int(level),
        data_pv=int(log_page_visit),
        data_ca=int(log_custom_activity),
        nonce=nonce,
        integrity=state.script.integrity if integrity else None,
        crossorigin="anonymous" if integrity else None,
    )
    # With registered sites (cross-site tracking), links to them hand the visitor over.
    hand_over = ""
    if state.handover_origins:
        settings = _attributes(
            src=f"{base}/kxt-handover.js",
            data_fn=name,
            data_sites=f" {' '.join(state.handover_origins)} ",
            data_handover=f"{base}/cross-site/handover?to=",
            nonce=nonce,
        )
        hand_over = f"<script async{settings}></script>"
    if not inline:
        return Markup(f"<script{external}></script>{hand_over}")
    # The stub sends what waits in its queue if the page is left before kxt.js has run; only
    # for a visitor who consents (nothing is ever sent below Visitor).
    leave = f"{base}/browser" if log_custom_activity and level.allows_tracking else None
    return Markup(
        f"<script{_attributes(nonce=nonce)}>{stub(name, send_on_leave=leave)}</script>"
        f"<script async{external}></script>{hand_over}"
    )


def add_to_templates(templates: Any) -> None:
    """Make ``activity_logging_script(request, ...)`` a global of a Jinja2Templates instance."""
    templates.env.globals["activity_logging_script"] = activity_logging_script
