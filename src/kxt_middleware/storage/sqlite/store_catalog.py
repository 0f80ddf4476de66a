"""SQLiteStore's methods for what marketers and operators define: types, groups, consents,
API keys, sites and operators (each one hand-over to a reader or to the writer)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from ...activity_types import ActivityType, validate_code_name
from ..records import GroupMember
from . import activities as sql
from . import directory, edits
from . import groups as group_sql

if TYPE_CHECKING:
    from ...api_keys import ApiKey, Channel
    from ...consents import Consent
    from ...groups import ContactGroup
    from ...operators import Operator
    from ...sites import Site

T = TypeVar("T")


class CatalogMethods:
    """The definition half of SQLiteStore (mixed into it)."""

    if TYPE_CHECKING:
        clock: Callable[[], datetime]

        async def _read(self, function: Callable[[sqlite3.Connection], T]) -> T: ...

        async def _write(self, function: Callable[..., T], *args: Any) -> T: ...

        def _now(self) -> str: ...

    # -- activity types -----------------------------------------------------------------------

    async def activity_types(self) -> list[ActivityType]:
        return await self._read(sql.select_types)

    async def activity_type(self, code_name: str) -> ActivityType | None:
        return await self._read(lambda c: sql.select_type(c, code_name))

    async def add_activity_type(self, activity_type: ActivityType) -> None:
        await self._write(edits.add_type, activity_type, self._now())

    async def ensure_activity_types(self, types: Iterable[ActivityType]) -> int:
        chosen, stamp = tuple(types), self._now()
        return await self._write(sql.insert_types, chosen, stamp)

    async def update_activity_type(
        self,
        code_name: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> ActivityType:
        validate_code_name(code_name)
        return await self._write(edits.update_type, code_name, display_name, description, enabled)

    # -- contact groups -----------------------------------------------------------------------

    async def contact_groups(self) -> list[ContactGroup]:
        return [group for _, group in await self._read(group_sql.select_groups)]

    async def contact_group(self, code_name: str) -> ContactGroup | None:
        found = await self._read(lambda c: group_sql.select_groups(c, code_name))
        return found[0][1] if found else None

    async def add_contact_group(self, group: ContactGroup) -> ContactGroup:
        return await self._write(edits.add_group, group, self._now())

    async def update_contact_group(self, group: ContactGroup) -> ContactGroup:
        return await self._write(edits.update_group, group, self._now())

    async def delete_contact_group(self, code_name: str) -> None:
        await self._write(edits.delete_group, code_name)

    # -- contact-group memberships -----------------------------------------------------------

    async def recalculate_contact_group_batch(
        self, code_name: str, after: int, limit: int
    ) -> tuple[int, int]:
        return await self._write(group_sql.recalculate_batch, code_name, after, limit, self.clock())

    async def count_members(self, code_name: str) -> int:
        now = self._now()
        return await self._read(lambda c: group_sql.count_members(c, code_name, now))

    async def member_counts(self) -> dict[str, int]:
        now = self._now()
        return await self._read(lambda c: group_sql.member_counts(c, now))

    async def groups_of_contact(self, contact: uuid.UUID) -> frozenset[str]:
        guid, now = str(contact), self._now()
        return await self._read(lambda c: group_sql.groups_of_contact(c, guid, now))

    async def group_members(
        self, code_name: str, *, after: int = 0, limit: int = 100
    ) -> list[GroupMember]:
        now = self._now()
        return await self._read(lambda c: group_sql.group_members(c, code_name, now, after, limit))

    # -- consents -----------------------------------------------------------------------------

    async def add_consent(self, consent: Consent) -> None:
        stamp = self._now()
        await self._write(directory.add_consent, consent, stamp)

    async def consents(self) -> list[Consent]:
        return await self._read(directory.consents)

    async def consent(self, code_name: str) -> Consent | None:
        return await self._read(lambda c: directory.consent(c, code_name))

    async def has_agreed(self, contact: uuid.UUID, consent: str) -> bool:
        guid = str(contact)
        return await self._read(lambda c: directory.has_agreed(c, guid, consent))

    async def set_agreement(self, contact: uuid.UUID, consent: str, agree: bool) -> None:
        guid, stamp = str(contact), self._now()
        await self._write(directory.set_agreement, guid, consent, agree, stamp)

    # -- channels and API keys ----------------------------------------------------------------

    async def add_api_key(self, channel_name: str, key_id: str, secret_hash: str) -> Channel:
        stamp = self._now()
        return await self._write(directory.add_api_key, channel_name, key_id, secret_hash, stamp)

    async def revoke_api_key(self, key_id: str) -> None:
        stamp = self._now()
        await self._write(directory.revoke_api_key, key_id, stamp)

    async def restore_api_key(self, key_id: str) -> None:
        await self._write(directory.restore_api_key, key_id)

    async def api_keys(self) -> list[ApiKey]:
        return await self._read(directory.api_keys)

    async def active_api_key(self, key_id: str) -> tuple[str, Channel] | None:
        return await self._read(lambda c: directory.active_api_key(c, key_id))

    # -- sites --------------------------------------------------------------------------------

    async def add_site(self, site: Site) -> None:
        stamp = self._now()
        await self._write(directory.add_site, site, stamp)

    async def set_site_enabled(self, code_name: str, enabled: bool) -> Site:
        return await self._write(directory.set_site_enabled, code_name, enabled)

    async def sites(self) -> list[Site]:
        return await self._read(directory.sites)

    async def site(self, code_name: str) -> Site | None:
        return await self._read(lambda c: directory.site(c, code_name))

    async def enabled_site_for_origin(self, origin: str) -> Site | None:
        return await self._read(lambda c: directory.enabled_site_for_origin(c, origin))

    # -- operators ----------------------------------------------------------------------------

    async def add_operator(self, name: str, password_hash: str) -> Operator:
        stamp = self._now()
        return await self._write(directory.add_operator, name, password_hash, stamp)

    async def set_operator_password_hash(self, name: str, password_hash: str) -> None:
        await self._write(directory.set_operator_password_hash, name, password_hash)

    async def delete_operator(self, name: str) -> None:
        await self._write(directory.delete_operator, name)

    async def operators(self) -> list[Operator]:
        return await self._read(directory.operators)

    async def operator_password_hash(self, name: str) -> tuple[str, str] | None:
        return await self._read(lambda c: directory.operator_password_hash(c, name))
