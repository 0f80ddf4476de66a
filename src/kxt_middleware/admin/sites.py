"""Admin pages for the external sites of cross-site tracking: list, register, enable, disable."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..activity_types import code_name_from_display_name
from ..sites import Site, UnknownSiteError, add_site, set_site_enabled, sites
from .auth import checked_form, signed_in
from .pages import admin_state, enabling, redirect, render


@signed_in
async def list_sites(request: Request) -> Response:
    """Every registered site: code name, name, origin, enabled."""
    return render(request, "sites.html", {"sites": await sites(admin_state(request).store)})


@signed_in
async def new_site(request: Request) -> Response:
    """The form to register a site (enabled, or disabled until its pages are ready)."""
    if request.method == "GET":
        values = {"name": "", "code": "", "origin": "", "enabled": True}
        return render(request, "site_form.html", {"values": values, "error": None})
    form = await checked_form(request)
    name, code, origin = (str(form.get(key, "")).strip() for key in ("name", "code", "origin"))
    enabled = form.get("enabled") == "on"
    try:
        if not code and name:
            code = code_name_from_display_name(name)
        site = Site(code, name, origin, enabled=enabled)
        await add_site(admin_state(request).store, site)
    except ValueError as exc:
        values = {"name": name, "code": code, "origin": origin, "enabled": enabled}
        return render(request, "site_form.html", {"values": values, "error": str(exc)}, 400)
    return redirect(request, "/sites", f"Registered site {site.code_name} ({site.origin}).")


@signed_in
async def toggle_site(request: Request) -> Response:
    """Enable or disable a site (a disabled site's pages log nothing)."""
    await checked_form(request)
    enabled = enabling(request, "Sites")
    try:
        site = await set_site_enabled(
            admin_state(request).store, request.path_params["code"], enabled
        )
    except UnknownSiteError:
        raise HTTPException(404, "There is no site with this code name.") from None
    state = "enabled" if enabled else "disabled"
    return redirect(request, "/sites", f"{site.code_name} is now {state}.")


ROUTES = [
    Route("/sites", list_sites),
    Route("/sites/new", new_site, methods=["GET", "POST"]),
    Route("/sites/{code}/{action:str}", toggle_site, methods=["POST"]),
]
