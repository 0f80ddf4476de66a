"""Admin pages for the API keys of headless tracking: list, create (the key shown once, only its
hash stored), revoke and restore."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..api_keys import (
    UnknownApiKeyError,
    api_keys,
    create_api_key,
    restore_api_key,
    revoke_api_key,
)
from ..storage import Store
from .auth import checked_form, signed_in
from .pages import admin_state, redirect, render


@signed_in
async def list_keys(request: Request) -> Response:
    """Every API key: its id, channel, when it was created and revoked."""
    return render(request, "api_keys.html", {"keys": await api_keys(admin_state(request).store)})


@signed_in
async def new_key(request: Request) -> Response:
    """The form to create a key for a channel; the answer shows the key, this once."""
    if request.method == "GET":
        return render(request, "api_key_form.html", {"channel": "", "error": None})
    form = await checked_form(request)
    channel = str(form.get("channel", "")).strip()
    try:
        token, key = await create_api_key(admin_state(request).store, channel)
    except ValueError as exc:
        context = {"channel": channel, "error": str(exc)}
        return render(request, "api_key_form.html", context, 400)
    # Rendered here, not after a redirect: the key is never stored, not even in the session.
    return render(request, "api_key_created.html", {"token": token, "key": key})


async def _change_key(
    request: Request, change: Callable[[Store, str], Awaitable[None]], state: str, done: str
) -> Response:
    await checked_form(request)
    key_id = request.path_params["key_id"]
    try:
        await change(admin_state(request).store, key_id)
    except UnknownApiKeyError:
        raise HTTPException(404, f"There is no {state} API key with this id.") from None
    return redirect(request, "/api-keys", done.format(key_id))


@signed_in
async def revoke_key(request: Request) -> Response:
    """Revoke a key: requests with it are refused from now on (until it is restored)."""
    return await _change_key(request, revoke_api_key, "active", "Revoked API key {}.")


@signed_in
async def restore_key(request: Request) -> Response:
    """Make a revoked key work again (one revoked by mistake; a leaked key needs a new one)."""
    return await _change_key(request, restore_api_key, "revoked", "API key {} works again.")


ROUTES = [
    Route("/api-keys", list_keys),
    Route("/api-keys/new", new_key, methods=["GET", "POST"]),
    Route("/api-keys/{key_id}/revoke", revoke_key, methods=["POST"]),
    Route("/api-keys/{key_id}/restore", restore_key, methods=["POST"]),
]
