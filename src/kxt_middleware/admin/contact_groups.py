"""Admin pages for contact groups: list, create, edit, members, recalculate, delete."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..activities import VALUE_MAX
from ..activity_types import (
    DESCRIPTION_MAX,
    DISPLAY_NAME_MAX,
    ActivityType,
    code_name_from_display_name,
    validate_code_name,
)
from ..groups import (
    MAX_CONDITIONS,
    MAX_COUNT,
    MAX_DAYS,
    ActivityCondition,
    ContactGroup,
    UnknownContactGroupError,
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
from .activity_log import row_number_param
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


def _submitted(form: FormData, current: ContactGroup | None) -> dict[str, Any]:
    """What the marketer typed (rows without an activity type dropped), to show again."""
    rows: list[dict[str, Any]] = []
    for index in range(MAX_CONDITIONS):
        row = {
            key: str(form.get(f"{key}_{index}", "")).strip()
            for key in ("type", "at_least", "days", "value_match", "value")
        }
        if row["type"]:
            rows.append(row)
    return {
        "name": str(form.get("name", "")).strip(),
        "code": current.code_name if current else str(form.get("code", "")).strip(),
        "description": str(form.get("description", "")).strip(),
        "match": str(form.get("match", "all")),
        "rows": _rows(rows),
    }


def _whole(text: str, maximum: int) -> int | None:
    """The whole number from 1 to ``maximum`` in ``text``, or None."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)):
        return None
    number = int(text)
    return number if 1 <= number <= maximum else None


def _condition(number: int, row: dict[str, str], types: dict[str, str]) -> ActivityCondition:
    """Condition ``number`` of the form; ValueError saying which one and what to change."""
    where = f"Condition {number}"
    activity_type = types.get(row["type"].lower())
    if activity_type is None:
        raise ValueError(
            f"{where}: there is no activity type {row['type']!r}; choose one from the list "
            "(or create it under Activity types first)."
        )
    at_least = _whole(row["at_least"] or "1", MAX_COUNT)
    if at_least is None:
        raise ValueError(
            f"{where}: ‘at least’ must be a whole number from 1 to {MAX_COUNT:,}, "
            f"not {row['at_least']!r}."
        )
    days = _whole(row["days"], MAX_DAYS) if row["days"] else None
    if row["days"] and days is None:
        raise ValueError(
            f"{where}: ‘in the last … days’ must be a whole number from 1 to {MAX_DAYS:,}, "
            f"or empty for any time; not {row['days']!r}."
        )
    if len(row["value"]) > VALUE_MAX:
        raise ValueError(
            f"{where}: the value is {len(row['value'])} characters long; "
            f"at most {VALUE_MAX} are allowed."
        )
    value_match = row["value_match"] or "equals"
    if value_match not in ("equals", "contains"):
        raise ValueError(f"{where}: choose whether the value is ‘equal to’ or ‘containing’.")
    return ActivityCondition(
        activity_type,
        at_least,
        days,
        row["value"] or None,
        "contains" if value_match == "contains" else "equals",
    )


def _group(values: dict[str, Any], types: list[ActivityType]) -> ContactGroup:
    """The group the submitted ``values`` describe; ValueError in the form's own words.

    An empty code name is made from the name and written into ``values`` to be shown.
    """
    name, description, match = values["name"], values["description"], values["match"]
    if not name:
        raise ValueError("Enter a name for the contact group.")
    if len(name) > DISPLAY_NAME_MAX:
        raise ValueError(
            f"The name is {len(name)} characters long; at most {DISPLAY_NAME_MAX} are allowed."
        )
    if len(description) > DESCRIPTION_MAX:
        raise ValueError(
            f"The description is {len(description)} characters long; "
            f"at most {DESCRIPTION_MAX} are allowed."
        )
    if not values["code"]:
        values["code"] = code_name_from_display_name(name)
    validate_code_name(values["code"])
    if match not in ("all", "any"):
        raise ValueError("Choose whether contacts must perform all or any of the conditions.")
    known = {activity_type.key: activity_type.code_name for activity_type in types}
    rows = [row for row in values["rows"] if row["type"]]
    conditions = [_condition(number, row, known) for number, row in enumerate(rows, start=1)]
    if not conditions:
        raise ValueError("Choose an activity type for at least one condition.")
    return ContactGroup(values["code"], name, description, conditions, match)


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
        values = _submitted(await checked_form(request), None)
        try:
            saved = await add_contact_group(store, _group(values, types))
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
        values = _submitted(await checked_form(request), current)
        try:
            await update_contact_group(store, _group(values, types))
        except ValueError as exc:
            context = {"values": values, "types": types, "error": str(exc), "current": current}
            return render(request, "contact_group_form.html", context, 400)
        except UnknownContactGroupError:
            raise HTTPException(404, "This contact group has just been deleted.") from None
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
    after = row_number_param(request, "after", "a contact number") or 0
    members = await group_members(
        state.store, group.code_name, after=after, limit=state.page_size + 1
    )
    more = len(members) > state.page_size
    members = members[: state.page_size]
    context = {
        "group": group,
        "members": members,
        "total": await count_members(state.store, group.code_name),
        "next": members[-1].row if more else None,
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
