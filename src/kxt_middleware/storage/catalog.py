"""The definition half of the storage seam: what marketers and operators define (activity
types, contact groups and memberships, consents, API keys, sites, operators)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..activity_types import ActivityType
    from ..api_keys import ApiKey, Channel
    from ..consents import Consent
    from ..groups import ContactGroup
    from ..operators import Operator
    from ..sites import Site
    from .records import GroupMember


def edited_type(
    current: ActivityType | None,
    code_name: str,
    *,
    display_name: str | None,
    description: str | None,
    enabled: bool | None,
) -> ActivityType:
    """``current`` with the given fields changed; UnknownActivityTypeError when it is None."""
    from ..activity_types import ActivityType
    from ..errors import UnknownActivityTypeError

    if current is None:
        raise UnknownActivityTypeError(
            f"there is no activity type {code_name!r}; list them with `kxt types list`"
        )
    return ActivityType(
        current.code_name,
        current.display_name if display_name is None else display_name,
        current.description if description is None else description,
        current.enabled if enabled is None else enabled,
        current.built_in,
    )


class Catalog:
    """Methods of :class:`~kxt_middleware.storage.Store` for what people define; each backend
    implements every one."""

    # -- activity types -----------------------------------------------------------------------

    async def activity_types(self) -> list[ActivityType]:
        """Every activity type, built-in first, then by code name."""
        raise NotImplementedError

    async def activity_type(self, code_name: str) -> ActivityType | None:
        """The activity type with this code name (ignoring case), or None."""
        raise NotImplementedError

    async def add_activity_type(self, activity_type: ActivityType) -> None:
        """Create an activity type; ValueError if one with this code name exists."""
        raise NotImplementedError

    async def ensure_activity_types(self, types: Iterable[ActivityType]) -> int:
        """Create the types that do not exist yet (never overwriting); return how many were new."""
        raise NotImplementedError

    async def update_activity_type(
        self,
        code_name: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> ActivityType:
        """Change a type's display name, description or enabled flag; return the updated type.

        UnknownActivityTypeError when there is no such type.
        """
        raise NotImplementedError

    # -- contact groups -----------------------------------------------------------------------

    async def contact_groups(self) -> list[ContactGroup]:
        """Every contact group, by code name."""
        raise NotImplementedError

    async def contact_group(self, code_name: str) -> ContactGroup | None:
        """The contact group with this code name (ignoring case), or None."""
        raise NotImplementedError

    async def add_contact_group(self, group: ContactGroup) -> ContactGroup:
        """Create a group (its conditions spelled as their types are); ValueError if the code
        name is taken or a condition's type does not exist. Members are computed separately."""
        raise NotImplementedError

    async def update_contact_group(self, group: ContactGroup) -> ContactGroup:
        """Replace the group with ``group.code_name``; UnknownContactGroupError if none."""
        raise NotImplementedError

    async def delete_contact_group(self, code_name: str) -> None:
        """Delete a group and its memberships; UnknownContactGroupError if none."""
        raise NotImplementedError

    async def recalculate_contact_group_batch(
        self, code_name: str, after: int, limit: int
    ) -> tuple[int, int]:
        """Recompute the group's memberships of the next ``limit`` contacts after row ``after``
        in one transaction; return (contacts evaluated, last row evaluated)."""
        raise NotImplementedError

    async def count_members(self, code_name: str) -> int:
        """How many contacts are in the group now."""
        raise NotImplementedError

    async def member_counts(self) -> dict[str, int]:
        """How many contacts each group has now, by code name."""
        raise NotImplementedError

    async def groups_of_contact(self, contact: uuid.UUID) -> frozenset[str]:
        """Code names of the groups the contact is in now (a passed time window counts as out)."""
        raise NotImplementedError

    async def group_members(
        self, code_name: str, *, after: int = 0, limit: int = 100
    ) -> list[GroupMember]:
        """A page of the group's current members, by contact row."""
        raise NotImplementedError

    # -- consents -----------------------------------------------------------------------------

    async def add_consent(self, consent: Consent) -> None:
        """Create a consent; ValueError if one with this code name exists."""
        raise NotImplementedError

    async def consents(self) -> list[Consent]:
        """Every consent, by code name."""
        raise NotImplementedError

    async def consent(self, code_name: str) -> Consent | None:
        """The consent with this code name (ignoring case), or None."""
        raise NotImplementedError

    async def has_agreed(self, contact: uuid.UUID, consent: str) -> bool:
        """True when the contact's latest answer to the consent is an agreement."""
        raise NotImplementedError

    async def set_agreement(self, contact: uuid.UUID, consent: str, agree: bool) -> None:
        """Record an agreement or revocation; ContactErasedError for an erased contact."""
        raise NotImplementedError

    # -- headless channels and API keys -------------------------------------------------------

    async def add_api_key(self, channel_name: str, key_id: str, secret_hash: str) -> Channel:
        """Store a key's hash for the channel (creating the channel if new); return the channel."""
        raise NotImplementedError

    async def revoke_api_key(self, key_id: str) -> None:
        """Revoke an active key; UnknownApiKeyError if there is none with this id."""
        raise NotImplementedError

    async def restore_api_key(self, key_id: str) -> None:
        """Make a revoked key work again; UnknownApiKeyError if no revoked key has this id."""
        raise NotImplementedError

    async def api_keys(self) -> list[ApiKey]:
        """Every API key, oldest first."""
        raise NotImplementedError

    async def active_api_key(self, key_id: str) -> tuple[str, Channel] | None:
        """The secret's hash and channel of an unrevoked key, or None."""
        raise NotImplementedError

    # -- cross-site sites ---------------------------------------------------------------------

    async def add_site(self, site: Site) -> None:
        """Register a site; ValueError if its code name or origin is taken."""
        raise NotImplementedError

    async def set_site_enabled(self, code_name: str, enabled: bool) -> Site:
        """Enable or disable a site and return it; UnknownSiteError if none."""
        raise NotImplementedError

    async def sites(self) -> list[Site]:
        """Every registered site, by code name."""
        raise NotImplementedError

    async def site(self, code_name: str) -> Site | None:
        """The site with this code name, or None."""
        raise NotImplementedError

    async def enabled_site_for_origin(self, origin: str) -> Site | None:
        """The enabled site registered for this (normalized) origin, or None."""
        raise NotImplementedError

    # -- operators ----------------------------------------------------------------------------

    async def add_operator(self, name: str, password_hash: str) -> Operator:
        """Create an operator; ValueError if the name is taken (ignoring case)."""
        raise NotImplementedError

    async def set_operator_password_hash(self, name: str, password_hash: str) -> None:
        """Replace an operator's password hash; UnknownOperatorError if none."""
        raise NotImplementedError

    async def delete_operator(self, name: str) -> None:
        """Delete an operator; UnknownOperatorError if none."""
        raise NotImplementedError

    async def operators(self) -> list[Operator]:
        """Every operator, by name."""
        raise NotImplementedError

    async def operator_password_hash(self, name: str) -> tuple[str, str] | None:
        """The operator's stored name and password hash (name ignoring case), or None."""
        raise NotImplementedError
