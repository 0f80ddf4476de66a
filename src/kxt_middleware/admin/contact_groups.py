"""Admin pages for contact groups: list, create, edit, members, recalculate, delete."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..activity_types import code_name_from_display_name
from ..groups import (
    MAX_CONDITIONS,
    ActivityCondition,
    ContactGroup,
    add_contact_group,
    contact_group,
    contact_groups,
    count_members,
    delete_contact_group,
    group_members,
    member_counts,
    recalculate_contact_group,
    update_contact_group,
)
from .auth import checked_form, signed_in
from .pages import admin_state, redirect, render

BLANK_ROWS = 2


@signed_in
async def list_groups(request: Request) -> Response:
    """Every contact group with its conditions and member count."""
    store = admin_state(request).store
    groups = await contact_groups(store)
    counts = await member_counts(store)
    return render(request, "contact_groups.html", {"groups": groups, "counts": counts})


def _rows(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    blank = {"type": "", "at_least": "1", "days": "", "value_match": "equals", "value": ""}
    count = min(MAX_CONDITIONS, max(3, len(conditions) + BLANK_ROWS))
    return [*conditions, *[dict(blank) for _ in range(count - len(conditions))]]


def _condition_rows(group: ContactGroup) -> list[dict[str, Any]]:
    return _rows(
        [
            {
                "type": c.activity_type,
                "at_least": str(c.at_least),
                "days": "" if c.in_last_days is None else str(c.in_last_days),
                "value_match": c.value_match,
                "value": "" if c.value is None else c.value,
            }
            for c in group.conditions
        ]
    )


def _whole(text: str, label: str, row: int) -> int:
    if not text.strip().isdigit():
        raise ValueError(f"condition {row}: {label} must be a whole number, not {text!r}")
    return int(text)


def _read_form(form: FormData, code_name: str | None) -> tuple[dict[str, Any], ContactGroup]:
    """The submitted values (to show again) and the group they describe (or ValueError)."""
    rows: list[dict[str, Any]] = []
    for index in range(MAX_CONDITIONS):
        row = {
            key: str(form.get(f"{key}_{index}", "")).strip()
            for key in ("type", "at_least", "days", "value_match", "value")
        }
        if row["type"]:
            rows.append(row)
    name = str(form.get("name", "")).strip()
    code = code_name or str(form.get("code", "")).strip() or code_name_from_display_name(name)
    description = str(form.get("description", "")).strip()
    match: Any = str(form.get("match", "all"))
    values = {
        "name": name,
        "code": code,
        "description": description,
        "match": match,
        "rows": _rows(rows),
    }
    conditions = []
    for number, row in enumerate(rows, start=1):
        conditions.append(
            ActivityCondition(
                row["type"],
                _whole(row["at_least"] or "1", "'at least'", number),
                _whole(row["days"], "'in the last days'", number) if row["days"] else None,
                row["value"] or None,
                "contains" if row["value_match"] == "contains" else "equals",
            )
        )
    group = ContactGroup(code, name, description, conditions, match)
    return values, group


@signed_in
async def new_group(request: Request) -> Response:
    """The form to create a contact group."""
    store = admin_state(request).store
    types = await store.activity_types()
    values: dict[str, Any] = {
        "name": "",
        "code": "",
        "description": "",
        "match": "all",
        "rows": _rows([]),
    }
    if request.method == "POST":
        form = await checked_form(request)
        try:
            values, group = _read_form(form, None)
            saved = await add_contact_group(store, group)
        except ValueError as exc:
            context = {"values": values, "types": types, "error": str(exc), "current": None}
            return render(request, "contact_group_form.html", context, 400)
        members = await count_members(store, saved.code_name)
        notice = f"Created contact group {saved.code_name} with {members} member(s)."
        return redirect(request, f"/contact-groups/{saved.code_name}", notice)
    context = {"values": values, "types": types, "error": None, "current": None}
    return render(request, "contact_group_form.html", context)


async def _existing(request: Request) -> ContactGroup:
    found = await contact_group(admin_state(request).store, request.path_params["code"])
    if found is None:
        raise HTTPException(404, "There is no contact group with this code name.")
    return found


@signed_in
async def edit_group(request: Request) -> Response:
    """The form to change a group's name, description and conditions."""
    store = admin_state(request).store
    current = await _existing(request)
    types = await store.activity_types()
    values: dict[str, Any] = {
        "name": current.display_name,
        "code": current.code_name,
        "description": current.description,
        "match": current.match,
        "rows": _condition_rows(current),
    }
    if request.method == "POST":
        form = await checked_form(request)
        try:
            values, group = _read_form(form, current.code_name)
            await update_contact_group(store, group)
        except ValueError as exc:
            context = {"values": values, "types": types, "error": str(exc), "current": current}
            return render(request, "contact_group_form.html", context, 400)
        members = await count_members(store, current.code_name)
        notice = f"Saved contact group {current.code_name}: {members} member(s)."
        return redirect(request, f"/contact-groups/{current.code_name}", notice)
    context = {"values": values, "types": types, "error": None, "current": current}
    return render(request, "contact_group_form.html", context)


@signed_in
async def group_detail(request: Request) -> Response:
    """A group's conditions and current members."""
    state = admin_state(request)
    group = await _existing(request)
    after_text = request.query_params.get("after", "")
    if after_text and not after_text.isdigit():
        raise HTTPException(400, "after must be a row number.")
    after = int(after_text or 0)
    members = await group_members(
        state.store, group.code_name, after=after, limit=state.page_size + 1
    )
    more = len(members) > state.page_size
    members = members[: state.page_size]
    context = {
        "group": group,
        "members": members,
        "total": await count_members(state.store, group.code_name),
        "next": members[-1][0] if more else None,
    }
    return render(request, "contact_group.html", context)


@signed_in
async def recalculate_group(request: Request) -> Response:
    """Rebuild the group's members from every contact's activities."""
    await checked_form(request)
    group = await _existing(request)
    members = await recalculate_contact_group(admin_state(request).store, group.code_name)
    notice = f"Recalculated {group.code_name}: {members} member(s)."
    return redirect(request, f"/contact-groups/{group.code_name}", notice)


@signed_in
async def delete_group(request: Request) -> Response:
    """Delete the group (its contacts and their activities stay)."""
    await checked_form(request)
    group = await _existing(request)
    await delete_contact_group(admin_state(request).store, group.code_name)
    return redirect(request, "/contact-groups", f"Deleted contact group {group.code_name}.")


ROUTES = [
    Route("/contact-groups", list_groups),
    Route("/contact-groups/new", new_group, methods=["GET", "POST"]),
    Route("/contact-groups/{code}", group_detail),
    Route("/contact-groups/{code}/edit", edit_group, methods=["GET", "POST"]),
    Route("/contact-groups/{code}/recalculate", recalculate_group, methods=["POST"]),
    Route("/contact-groups/{code}/delete", delete_group, methods=["POST"]),
]
