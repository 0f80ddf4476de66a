"""SQLiteStore's methods for what marketers and operators define: types, groups, consents,
API keys, sites and operators (each one hand-over to a reader or to the writer)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from ...activity_types import ActivityType, validate_code_name
from ..catalog import edited_type
from ..records import GroupMember
from . import activities as sql
from . import directory
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

        async def _write(self, function: Callable[[sqlite3.Connection], T]) -> T: ...

        def _now(self) -> str: ...

    # -- activity types -----------------------------------------------------------------------

    async def activity_types(self) -> list[ActivityType]:
        return await self._read(sql.select_types)

    async def activity_type(self, code_name: str) -> ActivityType | None:
        return await self._read(lambda c: sql.select_type(c, code_name))

    async def add_activity_type(self, activity_type: ActivityType) -> None:
        stamp = self._now()

        def add(connection: sqlite3.Connection) -> None:
            if not sql.insert_types(connection, [activity_type], stamp):
                raise ValueError(
                    f"an activity type with code name {activity_type.code_name!r} already "
                    "exists; choose another code name or edit the existing type"
                )

        await self._write(add)

    async def ensure_activity_types(self, types: Iterable[ActivityType]) -> int:
        chosen, stamp = tuple(types), self._now()
        return await self._write(lambda c: sql.insert_types(c, chosen, stamp))

    async def update_activity_type(
        self,
        code_name: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> ActivityType:
        validate_code_name(code_name)

        def update(connection: sqlite3.Connection) -> ActivityType:
            current = sql.select_type(connection, code_name)
            updated = edited_type(
                current,
                code_name,
                display_name=display_name,
                description=description,
                enabled=enabled,
            )
            sql.update_type(connection, updated)
            return updated

        return await self._write(update)

    # -- contact groups -----------------------------------------------------------------------

    async def contact_groups(self) -> list[ContactGroup]:
        return [group for _, group in await self._read(group_sql.select_groups)]

    async def contact_group(self, code_name: str) -> ContactGroup | None:
        found = await self._read(lambda c: group_sql.select_groups(c, code_name))
        return found[0][1] if found else None

    async def add_contact_group(self, group: ContactGroup) -> ContactGroup:
        stamp = self._now()

        def add(connection: sqlite3.Connection) -> ContactGroup:
            checked = group_sql.canonical_types(connection, group)
            if not group_sql.insert_group(connection, checked, stamp):
                raise ValueError(
                    f"a contact group with code name {group.code_name!r} already exists; "
                    "choose another code name or edit the existing group"
                )
            return checked

        return await self._write(add)

    async def update_contact_group(self, group: ContactGroup) -> ContactGroup:
        stamp = self._now()

        def update(connection: sqlite3.Connection) -> ContactGroup:
            group_sql.one_group(connection, group.code_name)
            checked = group_sql.canonical_types(connection, group)
            group_sql.update_group(connection, checked, stamp)
            return checked

        return await self._write(update)

    async def delete_contact_group(self, code_name: str) -> None:
        def delete(connection: sqlite3.Connection) -> None:
            group_sql.one_group(connection, code_name)
            connection.execute("DELETE FROM contact_groups WHERE code_name = ?", (code_name,))

        await self._write(delete)

    # -- contact-group memberships -----------------------------------------------------------

    async def recalculate_contact_group_batch(
        self, code_name: str, after: int, limit: int
    ) -> tuple[int, int]:
        return await self._write(
            lambda c: group_sql.recalculate_batch(c, code_name, after, limit, self.clock())
        )

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
        await self._write(lambda c: directory.add_consent(c, consent, stamp))

    async def consents(self) -> list[Consent]:
        return await self._read(directory.consents)

    async def consent(self, code_name: str) -> Consent | None:
        return await self._read(lambda c: directory.consent(c, code_name))

    async def has_agreed(self, contact: uuid.UUID, consent: str) -> bool:
        guid = str(contact)
        return await self._read(lambda c: directory.has_agreed(c, guid, consent))

    async def set_agreement(self, contact: uuid.UUID, consent: str, agree: bool) -> None:
        guid, stamp = str(contact), self._now()
        await self._write(lambda c: directory.set_agreement(c, guid, consent, agree, stamp))

    # -- channels and API keys ----------------------------------------------------------------

    async def add_api_key(self, channel_name: str, key_id: str, secret_hash: str) -> Channel:
        stamp = self._now()
        return await self._write(
            lambda c: directory.add_api_key(c, channel_name, key_id, secret_hash, stamp)
        )

    async def revoke_api_key(self, key_id: str) -> None:
        stamp = self._now()
        await self._write(lambda c: directory.revoke_api_key(c, key_id, stamp))

    async def restore_api_key(self, key_id: str) -> None:
        await self._write(lambda c: directory.restore_api_key(c, key_id))

    async def api_keys(self) -> list[ApiKey]:
        return await self._read(directory.api_keys)

    async def active_api_key(self, key_id: str) -> tuple[str, Channel] | None:
        return await self._read(lambda c: directory.active_api_key(c, key_id))

    # -- sites --------------------------------------------------------------------------------

    async def add_site(self, site: Site) -> None:
        stamp = self._now()
        await self._write(lambda c: directory.add_site(c, site, stamp))

    async def set_site_enabled(self, code_name: str, enabled: bool) -> Site:
        return await self._write(lambda c: directory.set_site_enabled(c, code_name, enabled))

    async def sites(self) -> list[Site]:
        return await self._read(directory.sites)

    async def site(self, code_name: str) -> Site | None:
        return await self._read(lambda c: directory.site(c, code_name))

    async def enabled_site_for_origin(self, origin: str) -> Site | None:
        return await self._read(lambda c: directory.enabled_site_for_origin(c, origin))

    # -- operators ----------------------------------------------------------------------------

    async def add_operator(self, name: str, password_hash: str) -> Operator:
        stamp = self._now()
        return await self._write(lambda c: directory.add_operator(c, name, password_hash, stamp))

    async def set_operator_password_hash(self, name: str, password_hash: str) -> None:
        await self._write(lambda c: directory.set_operator_password_hash(c, name, password_hash))

    async def delete_operator(self, name: str) -> None:
        await self._write(lambda c: directory.delete_operator(c, name))

    async def operators(self) -> list[Operator]:
        return await self._read(directory.operators)

    async def operator_password_hash(self, name: str) -> tuple[str, str] | None:
        return await self._read(lambda c: directory.operator_password_hash(c, name))
