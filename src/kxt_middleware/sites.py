"""External sites registered for cross-site tracking (name, code name, https origin, enabled)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import aiosqlite

from .activities import format_time
from .activity_types import DISPLAY_NAME_MAX, check_text, validate_code_name
from .errors import KxtError
from .store import ActivityStore

_ORIGIN = re.compile(r"https://[a-z0-9.-]+(:[0-9]{1,5})?")


class UnknownSiteError(KxtError, LookupError):
    """Raised when a site that is not registered is edited."""


def normalize_origin(origin: str) -> str:
    """``https://host[:port]`` in lower case; ValueError for anything else (http, paths)."""
    candidate = origin.strip().rstrip("/").lower().removesuffix(":443")
    if not _ORIGIN.fullmatch(candidate):
        raise ValueError(
            f"{origin!r} is not an https origin: use https://host[:port] with no path "
            "(cross-site cookies need https)"
        )
    return candidate


@dataclass(frozen=True)
class Site:
    """An external site whose pages may log activities for the main site's contacts."""

    code_name: str
    name: str
    origin: str
    enabled: bool = True

    def __post_init__(self) -> None:
        validate_code_name(self.code_name)
        check_text("name", self.name, DISPLAY_NAME_MAX, required=True)
        object.__setattr__(self, "origin", normalize_origin(self.origin))


_COLUMNS = "code_name, name, origin, enabled"


async def add_site(store: ActivityStore, site: Site) -> None:
    """Register a site; ValueError if its code name or origin is taken."""

    async def add(connection: aiosqlite.Connection) -> None:
        try:
            await connection.execute(
                f"INSERT INTO sites ({_COLUMNS}, created) VALUES (?, ?, ?, ?, ?)",
                (
                    site.code_name,
                    site.name,
                    site.origin,
                    int(site.enabled),
                    format_time(store.clock()),
                ),
            )
        except aiosqlite.IntegrityError:
            raise ValueError(
                f"a site with code name {site.code_name!r} or origin {site.origin} is already "
                "registered; list them with `kxt sites list`"
            ) from None

    await store.write(add)


async def set_site_enabled(store: ActivityStore, code_name: str, enabled: bool) -> Site:
    """Enable or disable a site; return it."""

    async def update(connection: aiosqlite.Connection) -> None:
        cursor = await connection.execute(
            "UPDATE sites SET enabled = ? WHERE code_name = ?", (int(enabled), code_name)
        )
        if cursor.rowcount == 0:
            raise UnknownSiteError(
                f"there is no site {code_name!r}; list them with `kxt sites list`"
            )

    await store.write(update)
    found = await get_site(store, code_name)
    assert found is not None
    return found


async def sites(store: ActivityStore) -> list[Site]:
    """Every registered site, by code name."""
    connection = await store.read_connection()
    async with connection.execute(f"SELECT {_COLUMNS} FROM sites ORDER BY code_name") as cursor:
        return [Site(row[0], row[1], row[2], bool(row[3])) async for row in cursor]


async def get_site(store: ActivityStore, code_name: str) -> Site | None:
    """The site with this code name, or None."""
    connection = await store.read_connection()
    async with connection.execute(
        f"SELECT {_COLUMNS} FROM sites WHERE code_name = ?", (code_name,)
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else Site(row[0], row[1], row[2], bool(row[3]))


async def enabled_site_for_origin(store: ActivityStore, origin: str) -> Site | None:
    """The enabled site registered for a request's ``Origin``, or None."""
    try:
        wanted = normalize_origin(origin)
    except ValueError:
        return None
    connection = await store.read_connection()
    async with connection.execute(
        f"SELECT {_COLUMNS} FROM sites WHERE origin = ? AND enabled = 1", (wanted,)
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else Site(row[0], row[1], row[2], True)
