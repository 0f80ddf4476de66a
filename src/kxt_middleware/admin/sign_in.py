"""Admin sign-in and sign-out pages."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..operators import verify_operator
from .auth import checked_form, signed_in
from .pages import admin_state, redirect, render


async def sign_in_page(request: Request) -> Response:
    """The sign-in form (GET) and its handling (POST)."""
    if request.method == "GET":
        return render(request, "sign_in.html", {"name": "", "error": None})
    form = await checked_form(request)
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    state = admin_state(request)
    address = request.client.host if request.client else "unknown"
    # Counted before the slow password check: concurrent guesses cannot all get through.
    wait = state.throttle.attempt(name, address)
    if wait:
        minutes = max(1, round(wait / 60))
        error = f"Too many wrong passwords. Try again in {minutes} minute{'s' * (minutes > 1)}."
        return render(request, "sign_in.html", {"name": name, "error": error}, 429)
    operator = await verify_operator(state.store, name, password) if name and password else None
    if operator is None:
        await state.throttle.failed()
        error = "Wrong name or password."
        return render(request, "sign_in.html", {"name": name, "error": error}, 400)
    state.throttle.succeeded(name, address)
    request.session.clear()  # a new session (and CSRF token) for the signed-in operator
    request.session["operator"] = operator
    return redirect(request, "/")


@signed_in
async def sign_out(request: Request) -> Response:
    """End the session."""
    await checked_form(request)
    request.session.clear()
    return redirect(request, "/sign-in", "You are signed out.")


ROUTES = [
    Route("/sign-in", sign_in_page, methods=["GET", "POST"]),
    Route("/sign-out", sign_out, methods=["POST"]),
]
