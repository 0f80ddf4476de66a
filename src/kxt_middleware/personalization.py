"""Personalization: is the visitor's contact in a contact group? (False below Visitor level)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection

from .groups import groups_of_contact
from .request_state import request_state

if TYPE_CHECKING:
    from starlette.templating import Jinja2Templates

# Where contact_groups() leaves its answer for the template globals of this request.
SCOPE_KEY = "kxt.contact_groups"


async def contact_groups(request: HTTPConnection) -> frozenset[str]:
    """Code names (lower case) of the visitor's contact groups; empty below Visitor level.

    The answer is also kept for this request, for the Jinja2 globals added by
    :func:`register_personalization`.
    """
    state = request_state(request, "personalize content by contact group")
    contact = state.visitor.contact(create=False)
    groups: frozenset[str] = frozenset()
    if contact is not None:
        found = await groups_of_contact(state.logger.tracker.store, contact.guid)
        groups = frozenset(code.lower() for code in found)
    request.scope[SCOPE_KEY] = groups
    return groups


async def is_in_contact_group(request: HTTPConnection, code_name: str) -> bool:
    """True when the visitor's contact is in the contact group now."""
    return code_name.lower() in await contact_groups(request)


async def is_in_any_contact_group(request: HTTPConnection, *code_names: str) -> bool:
    """True when the visitor's contact is in at least one of the contact groups."""
    groups = await contact_groups(request)
    return any(code.lower() in groups for code in code_names)


async def is_in_all_contact_groups(request: HTTPConnection, *code_names: str) -> bool:
    """True when the visitor's contact is in every one of the contact groups."""
    groups = await contact_groups(request)
    return all(code.lower() in groups for code in code_names)


def _loaded_groups(context: Any) -> frozenset[str]:
    request = context.get("request")
    groups = None if request is None else request.scope.get(SCOPE_KEY)
    if groups is None:
        raise RuntimeError(
            "the template checks contact groups, but the endpoint did not load them: call "
            "`await contact_groups(request)` before rendering, and pass `request` to the template"
        )
    return frozenset(groups)


def register_personalization(templates: Jinja2Templates) -> None:
    """Add ``is_in_contact_group``, ``is_in_any_contact_group`` and ``is_in_all_contact_groups``
    as Jinja2 globals.

    Templates render synchronously, so the globals read the groups the endpoint loaded with
    ``await contact_groups(request)`` for this request.
    """
    from jinja2 import pass_context

    @pass_context
    def in_group(context: Any, code_name: str) -> bool:
        return code_name.lower() in _loaded_groups(context)

    @pass_context
    def in_any(context: Any, *code_names: str) -> bool:
        groups = _loaded_groups(context)
        return any(code.lower() in groups for code in code_names)

    @pass_context
    def in_all(context: Any, *code_names: str) -> bool:
        groups = _loaded_groups(context)
        return all(code.lower() in groups for code in code_names)

    templates.env.globals.update(
        is_in_contact_group=in_group,
        is_in_any_contact_group=in_any,
        is_in_all_contact_groups=in_all,
    )
