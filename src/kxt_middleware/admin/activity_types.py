"""Admin pages for activity types: list, create, edit, enable and disable."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..activity_types import ActivityType, code_name_from_display_name
from .auth import checked_form, signed_in
from .pages import admin_state, enabling, redirect, render


@signed_in
async def list_types(request: Request) -> Response:
    """Every activity type: code name, name, built-in or custom, enabled."""
    types = await admin_state(request).store.activity_types()
    return render(request, "activity_types.html", {"types": types})


@signed_in
async def new_type(request: Request) -> Response:
    """The form to create a custom activity type (the code name follows the name)."""
    values = {"name": "", "code": "", "description": "", "enabled": True}
    if request.method == "GET":
        return render(
            request, "activity_type_form.html", {"values": values, "error": None, "current": None}
        )
    form = await checked_form(request)
    values = {
        "name": str(form.get("name", "")).strip(),
        "code": str(form.get("code", "")).strip(),
        "description": str(form.get("description", "")).strip(),
        "enabled": form.get("enabled") == "on",
    }
    try:
        if not values["code"] and values["name"]:
            values["code"] = code_name_from_display_name(str(values["name"]))
        activity_type = ActivityType(
            str(values["code"]),
            str(values["name"]),
            str(values["description"]),
            enabled=bool(values["enabled"]),
        )
        await admin_state(request).store.add_activity_type(activity_type)
    except ValueError as exc:
        context = {"values": values, "error": str(exc), "current": None}
        return render(request, "activity_type_form.html", context, 400)
    return redirect(request, "/activity-types", f"Created activity type {activity_type.code_name}.")


async def _existing(request: Request) -> ActivityType:
    found = await admin_state(request).store.activity_type(request.path_params["code"])
    if found is None:
        raise HTTPException(404, "There is no activity type with this code name.")
    return found


@signed_in
async def edit_type(request: Request) -> Response:
    """The form to change a type's name, description and enabled flag."""
    current = await _existing(request)
    values = {
        "name": current.display_name,
        "code": current.code_name,
        "description": current.description,
        "enabled": current.enabled,
    }
    if request.method == "GET":
        context: dict[str, object] = {"values": values, "error": None, "current": current}
        return render(request, "activity_type_form.html", context)
    form = await checked_form(request)
    values.update(
        name=str(form.get("name", "")).strip(),
        description=str(form.get("description", "")).strip(),
        enabled=form.get("enabled") == "on",
    )
    try:
        ActivityType(current.code_name, str(values["name"]), str(values["description"]))
        await admin_state(request).store.update_activity_type(
            current.code_name,
            display_name=str(values["name"]),
            description=str(values["description"]),
            enabled=bool(values["enabled"]),
        )
    except ValueError as exc:
        context = {"values": values, "error": str(exc), "current": current}
        return render(request, "activity_type_form.html", context, 400)
    return redirect(request, "/activity-types", f"Saved activity type {current.code_name}.")


@signed_in
async def toggle_type(request: Request) -> Response:
    """Enable or disable a type (a disabled type logs nothing)."""
    await checked_form(request)
    enabled = enabling(request, "Activity types")
    current = await _existing(request)
    await admin_state(request).store.update_activity_type(current.code_name, enabled=enabled)
    state = "enabled" if enabled else "disabled"
    return redirect(request, "/activity-types", f"{current.code_name} is now {state}.")


ROUTES = [
    Route("/activity-types", list_types),
    Route("/activity-types/new", new_type, methods=["GET", "POST"]),
    Route("/activity-types/{code}/edit", edit_type, methods=["GET", "POST"]),
    Route("/activity-types/{code}/{action:str}", toggle_type, methods=["POST"]),
]
