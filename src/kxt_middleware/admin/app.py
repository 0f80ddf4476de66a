"""The admin ASGI app: routes, session cookie, templates, security headers, store life cycle."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

try:
    import jinja2
    from starlette.templating import Jinja2Templates
except ImportError:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "the kxt admin needs jinja2, argon2-cffi and python-multipart: "
        "pip install 'kxt-middleware[admin]'"
    ) from None
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..storage import Store, open_store
from . import (
    activities,
    activity_types,
    api_keys,
    contact_groups,
    contacts,
    export,
    overview,
    sign_in,
    sites,
)
from .auth import SignInThrottle
from .pages import AdminState, render

HERE = Path(__file__).parent
EIGHT_HOURS = 8 * 60 * 60
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return render(
        request, "error.html", {"status": exc.status_code, "detail": exc.detail}, exc.status_code
    )


class AdminApp:
    """The admin as an ASGI app; mount it where you want and ``await close()`` at shutdown."""

    def __init__(self, app: ASGIApp, state: AdminState, owns_store: bool) -> None:
        self._app = app
        self.state = state
        self.store = state.store
        self._owns_store = owns_store

    async def close(self) -> None:
        """Close the admin's own store (a shared ``store=`` is left to its owner)."""
        if self._owns_store:
            await self.store.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *SECURITY_HEADERS]
            await send(message)

        await self._app(scope, receive, send_with_headers)


def admin_app(
    *,
    secret_key: str,
    database: str | os.PathLike[str] | None = None,
    store: Store | None = None,
    https_only: bool = False,
    session_max_age: int = EIGHT_HOURS,
    max_failed_sign_ins: int = 5,
    failed_sign_in_delay: float = 1.0,
    page_size: int = 50,
) -> AdminApp:
    """Build the admin over ``store`` (shared with the site) or its own store on ``database``.

    Starlette does not run the lifespan of mounted apps: the admin opens its store on first
    use; call ``await admin.close()`` in the site's lifespan to close a store it opened.
    """
    if (database is None) == (store is None):
        raise ValueError("pass exactly one of database= (the admin opens it) or store= (shared)")
    if not isinstance(secret_key, str) or len(secret_key) < 16:
        raise ValueError(
            "secret_key must be a random string of at least 16 characters, e.g. from "
            "`python -c 'import secrets; print(secrets.token_urlsafe())'`"
        )
    if not 1 <= page_size <= 1000:
        raise ValueError("page_size must be between 1 and 1000")
    owns_store = store is None
    chosen = store if store is not None else open_store(database or "")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    templates = Jinja2Templates(env=env)
    state = AdminState(
        chosen,
        templates,
        SignInThrottle(max_failures=max_failed_sign_ins, delay=failed_sign_in_delay),
        page_size,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield  # run only when the admin is served on its own, not mounted
        if owns_store:
            await chosen.close()

    routes: Sequence[BaseRoute] = [
        *overview.ROUTES,
        *sign_in.ROUTES,
        *activity_types.ROUTES,
        *activities.ROUTES,
        *export.ROUTES,
        *contacts.ROUTES,
        *contact_groups.ROUTES,
        *sites.ROUTES,
        *api_keys.ROUTES,
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=secret_key,
                session_cookie="kxt_admin",
                max_age=session_max_age,
                same_site="lax",
                https_only=https_only,
            )
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.admin = state
    return AdminApp(app, state, owns_store)
