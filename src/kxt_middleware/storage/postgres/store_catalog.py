"""PostgresStore's methods for what marketers and operators define: types, groups, consents,
API keys, sites and operators (each a read on a pooled connection or a job for the writer)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

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


class CatalogMethods:
    """The definition half of PostgresStore (mixed into it)."""

    if TYPE_CHECKING:
        clock: Callable[[], datetime]

        async def _read(self, function: Callable[[Any], Any]) -> Any: ...

        async def _write(
            self, function: Callable[[Any], Any], *, locks: dict[int, bool] | None = None
        ) -> Any: ...

    # -- activity types -----------------------------------------------------------------------

    async def activity_types(self) -> list[ActivityType]:
        types: list[ActivityType] = await self._read(sql.select_types)
        return types

    async def activity_type(self, code_name: str) -> ActivityType | None:
        found: ActivityType | None = await self._read(lambda c: sql.select_type(c, code_name))
        return found

    async def add_activity_type(self, activity_type: ActivityType) -> None:
        now = self.clock()

        async def add(connection: Any) -> None:
            if not await sql.insert_types(connection, [activity_type], now):
                raise ValueError(
                    f"an activity type with code name {activity_type.code_name!r} already "
                    "exists; choose another code name or edit the existing type"
                )

        await self._write(add)

    async def ensure_activity_types(self, types: Iterable[ActivityType]) -> int:
        chosen, now = tuple(types), self.clock()
        return int(await self._write(lambda c: sql.insert_types(c, chosen, now)))

    async def update_activity_type(
        self,
        code_name: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> ActivityType:
        validate_code_name(code_name)

        async def update(connection: Any) -> ActivityType:
            current = await sql.select_type(connection, code_name)
            updated = edited_type(
                current,
                code_name,
                display_name=display_name,
                description=description,
                enabled=enabled,
            )
            await sql.update_type(connection, updated)
            return updated

        changed: ActivityType = await self._write(update)
        return changed

    # -- contact groups -----------------------------------------------------------------------

    async def contact_groups(self) -> list[ContactGroup]:
        return [group for _, group in await self._read(group_sql.select_groups)]

    async def contact_group(self, code_name: str) -> ContactGroup | None:
        found = await self._read(lambda c: group_sql.select_groups(c, code_name))
        return found[0][1] if found else None

    async def add_contact_group(self, group: ContactGroup) -> ContactGroup:
        now = self.clock()

        async def add(connection: Any) -> ContactGroup:
            checked = await group_sql.canonical_types(connection, group)
            if await group_sql.insert_group(connection, checked, now) is None:
                raise ValueError(
                    f"a contact group with code name {group.code_name!r} already exists; "
                    "choose another code name or edit the existing group"
                )
            return checked

        added: ContactGroup = await self._write(add)
        return added

    async def update_contact_group(self, group: ContactGroup) -> ContactGroup:
        now = self.clock()

        async def update(connection: Any) -> ContactGroup:
            await group_sql.one_group(connection, group.code_name)
            checked = await group_sql.canonical_types(connection, group)
            await group_sql.update_group(connection, checked, now)
            return checked

        updated: ContactGroup = await self._write(update)
        return updated

    async def delete_contact_group(self, code_name: str) -> None:
        await self._write(lambda c: group_sql.delete_group(c, code_name))

    # -- contact-group memberships -----------------------------------------------------------

    async def recalculate_contact_group_batch(
        self, code_name: str, after: int, limit: int
    ) -> tuple[int, int]:
        done: tuple[int, int] = await self._write(
            lambda c: group_sql.recalculate_batch(c, code_name, after, limit, self.clock())
        )
        return done

    async def count_members(self, code_name: str) -> int:
        now = self.clock()
        return int(await self._read(lambda c: group_sql.count_members(c, code_name, now)))

    async def member_counts(self) -> dict[str, int]:
        now = self.clock()
        counts: dict[str, int] = await self._read(lambda c: group_sql.member_counts(c, now))
        return counts

    async def groups_of_contact(self, contact: uuid.UUID) -> frozenset[str]:
        guid, now = str(contact), self.clock()
        found: frozenset[str] = await self._read(
            lambda c: group_sql.groups_of_contact(c, guid, now)
        )
        return found

    async def group_members(
        self, code_name: str, *, after: int = 0, limit: int = 100
    ) -> list[GroupMember]:
        now = self.clock()
        members: list[GroupMember] = await self._read(
            lambda c: group_sql.group_members(c, code_name, now, after, limit)
        )
        return members

    # -- consents -----------------------------------------------------------------------------

    async def add_consent(self, consent: Consent) -> None:
        now = self.clock()
        await self._write(lambda c: directory.add_consent(c, consent, now))

    async def consents(self) -> list[Consent]:
        found: list[Consent] = await self._read(directory.consents)
        return found

    async def consent(self, code_name: str) -> Consent | None:
        found: Consent | None = await self._read(lambda c: directory.consent(c, code_name))
        return found

    async def has_agreed(self, contact: uuid.UUID, consent: str) -> bool:
        guid = str(contact)
        return bool(await self._read(lambda c: directory.has_agreed(c, guid, consent)))

    async def set_agreement(self, contact: uuid.UUID, consent: str, agree: bool) -> None:
        guid, now = str(contact), self.clock()
        await self._write(
            lambda c: directory.set_agreement(c, guid, consent, agree, now),
            locks={sql.lock_key(contact): False},
        )

    # -- channels and API keys ----------------------------------------------------------------

    async def add_api_key(self, channel_name: str, key_id: str, secret_hash: str) -> Channel:
        now = self.clock()
        channel: Channel = await self._write(
            lambda c: directory.add_api_key(c, channel_name, key_id, secret_hash, now)
        )
        return channel

    async def revoke_api_key(self, key_id: str) -> None:
        now = self.clock()
        await self._write(lambda c: directory.revoke_api_key(c, key_id, now))

    async def restore_api_key(self, key_id: str) -> None:
        await self._write(lambda c: directory.restore_api_key(c, key_id))

    async def api_keys(self) -> list[ApiKey]:
        keys: list[ApiKey] = await self._read(directory.api_keys)
        return keys

    async def active_api_key(self, key_id: str) -> tuple[str, Channel] | None:
        found: tuple[str, Channel] | None = await self._read(
            lambda c: directory.active_api_key(c, key_id)
        )
        return found

    # -- sites --------------------------------------------------------------------------------

    async def add_site(self, site: Site) -> None:
        now = self.clock()
        await self._write(lambda c: directory.add_site(c, site, now))

    async def set_site_enabled(self, code_name: str, enabled: bool) -> Site:
        changed: Site = await self._write(
            lambda c: directory.set_site_enabled(c, code_name, enabled)
        )
        return changed

    async def sites(self) -> list[Site]:
        found: list[Site] = await self._read(directory.sites)
        return found

    async def site(self, code_name: str) -> Site | None:
        found: Site | None = await self._read(lambda c: directory.site(c, code_name))
        return found

    async def enabled_site_for_origin(self, origin: str) -> Site | None:
        found: Site | None = await self._read(
            lambda c: directory.enabled_site_for_origin(c, origin)
        )
        return found

    # -- operators ----------------------------------------------------------------------------

    async def add_operator(self, name: str, password_hash: str) -> Operator:
        now = self.clock()
        added: Operator = await self._write(
            lambda c: directory.add_operator(c, name, password_hash, now)
        )
        return added

    async def set_operator_password_hash(self, name: str, password_hash: str) -> None:
        await self._write(lambda c: directory.set_operator_password_hash(c, name, password_hash))

    async def delete_operator(self, name: str) -> None:
        await self._write(lambda c: directory.delete_operator(c, name))

    async def operators(self) -> list[Operator]:
        found: list[Operator] = await self._read(directory.operators)
        return found

    async def operator_password_hash(self, name: str) -> tuple[str, str] | None:
        found: tuple[str, str] | None = await self._read(
            lambda c: directory.operator_password_hash(c, name)
        )
        return found
