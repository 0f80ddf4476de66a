"""External sites registered for cross-site tracking (name, code name, https origin, enabled)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .activity_types import DISPLAY_NAME_MAX, check_text, validate_code_name
from .errors import KxtError

if TYPE_CHECKING:
    from .storage import Store

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


async def add_site(store: Store, site: Site) -> None:
    """Register a site; ValueError if its code name or origin is taken."""
    await store.add_site(site)


async def set_site_enabled(store: Store, code_name: str, enabled: bool) -> Site:
    """Enable or disable a site; return it."""
    return await store.set_site_enabled(code_name, enabled)


async def sites(store: Store) -> list[Site]:
    """Every registered site, by code name."""
    return await store.sites()


async def get_site(store: Store, code_name: str) -> Site | None:
    """The site with this code name, or None."""
    return await store.site(code_name)


async def enabled_site_for_origin(store: Store, origin: str) -> Site | None:
    """The enabled site registered for a request's ``Origin``, or None."""
    try:
        wanted = normalize_origin(origin)
    except ValueError:
        return None
    return await store.enabled_site_for_origin(wanted)
