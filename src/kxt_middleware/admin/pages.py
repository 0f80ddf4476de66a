"""What every admin page shares: the admin's state, rendering with session data, redirects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from ..storage import Store
from .auth import CSRF_FIELD, SignInThrottle, csrf_token


@dataclass
class AdminState:
    """What every admin page needs: the store, the templates and the sign-in throttle."""

    store: Store
    templates: Jinja2Templates
    throttle: SignInThrottle
    page_size: int


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> Response:
    """Render an admin template with the session's operator, CSRF token and notice."""
    state: AdminState = request.app.state.admin
    base = request.scope.get("root_path", "")
    values = {
        "base": base,
        "operator": request.session.get("operator"),
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token(request),
        "notice": request.session.pop("notice", None),
        **(context or {}),
    }
    return state.templates.TemplateResponse(request, template, values, status_code=status)


def redirect(request: Request, path: str, notice: str | None = None) -> Response:
    """303 to ``path`` under the admin's mount path, with a notice for the next page."""
    if notice:
        request.session["notice"] = notice
    return RedirectResponse(request.scope.get("root_path", "") + path, status_code=303)


def admin_state(request: Request) -> AdminState:
    """The state of the admin app serving this request."""
    state: AdminState = request.app.state.admin
    return state


def enabling(request: Request, what: str) -> bool:
    """True for a POST to ``…/enable``, False for ``…/disable``; 404 for anything else."""
    action = request.path_params["action"]
    if action not in ("enable", "disable"):
        raise HTTPException(404, f"{what} can only be enabled or disabled.")
    return bool(action == "enable")
