"""Admin contact pages: the list, one contact's groups and activities, erasing a contact."""

from __future__ import annotations

import uuid

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..groups import contact_groups, groups_of_contact
from .activity_log import (
    ActivityFilter,
    activity_page,
    row_number_param,
)
from .auth import checked_form, signed_in
from .pages import admin_state, redirect, render


def _guid(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params["guid"])
    except ValueError:
        raise HTTPException(404, "This is not a contact GUID.") from None


@signed_in
async def list_contacts(request: Request) -> Response:
    """Contacts, newest first, with activity counts and last activity."""
    state = admin_state(request)
    rows, older = await state.store.contact_page(
        before=row_number_param(request, "before", "a contact number"),
        limit=state.page_size,
    )
    return render(request, "contacts.html", {"contacts": rows, "older": older})


@signed_in
async def contact_detail(request: Request) -> Response:
    """One contact: its groups and its activities, newest first."""
    state = admin_state(request)
    guid = _guid(request)
    before = row_number_param(request, "before", "an activity number")
    summary = await state.store.contact_summary(guid)
    if summary is None:
        raise HTTPException(404, "There is no contact with this GUID (it may have been deleted).")
    codes = await groups_of_contact(state.store, guid)
    groups = [group for group in await contact_groups(state.store) if group.code_name in codes]
    page = await activity_page(
        state.store, ActivityFilter(contact=guid), before=before, limit=state.page_size
    )
    return render(request, "contact.html", {"contact": summary, "groups": groups, "page": page})


@signed_in
async def delete_contact(request: Request) -> Response:
    """Delete the contact and everything stored about it."""
    await checked_form(request)
    guid = _guid(request)
    if not await admin_state(request).store.delete_contact(guid):
        raise HTTPException(404, "There is no contact with this GUID (it may have been deleted).")
    return redirect(request, "/contacts", f"Deleted contact {guid} and all its data.")


ROUTES = [
    Route("/contacts", list_contacts),
    Route("/contacts/{guid}", contact_detail),
    Route("/contacts/{guid}/delete", delete_contact, methods=["POST"]),
]
