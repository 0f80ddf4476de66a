"""Consent-aware custom activity tracking for ASGI apps (Starlette, FastAPI)."""

# Each public name is imported when it is first used, so that a process needing one part (the
# SQLite writer process, the CLI) does not pay for importing them all.

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .activities import (
        Activity,
        ActivitySource,
        CustomActivityData,
        LogResult,
        LogStatus,
    )
    from .activity_types import ActivityType, code_name_from_display_name
    from .context import current_activity_logger
    from .cookie_level import CookieLevel
    from .cross_site import cross_site_snippet
    from .errors import (
        ContactErasedError,
        KxtError,
        MiddlewareNotInstalledError,
        NoRequestContextError,
        StoreClosedError,
        StoreError,
        StoreOverloadedError,
        UnknownActivityTypeError,
    )
    from .groups import (
        ActivityCondition,
        ContactGroup,
        UnknownContactGroupError,
        install_contact_groups,
    )
    from .logger import ActivityLogger
    from .middleware import ActivityTrackingMiddleware
    from .origin import is_cross_site_request
    from .personalization import (
        contact_groups,
        is_in_all_contact_groups,
        is_in_any_contact_group,
        is_in_contact_group,
        register_personalization,
    )
    from .request_state import (
        get_activity_logger,
        get_cookie_level,
        get_current_contact,
        has_chosen_cookie_level,
        set_cookie_level,
    )
    from .script_tag import activity_logging_script, add_to_templates
    from .storage import ActivityStore, Store, open_store
    from .visitor import Contact

_MODULES = {
    ".activities": ("Activity", "ActivitySource", "CustomActivityData", "LogResult", "LogStatus"),
    ".activity_types": ("ActivityType", "code_name_from_display_name"),
    ".context": ("current_activity_logger",),
    ".cookie_level": ("CookieLevel",),
    ".cross_site": ("cross_site_snippet",),
    ".errors": (
        "ContactErasedError",
        "KxtError",
        "MiddlewareNotInstalledError",
        "NoRequestContextError",
        "StoreClosedError",
        "StoreError",
        "StoreOverloadedError",
        "UnknownActivityTypeError",
    ),
    ".groups": (
        "ActivityCondition",
        "ContactGroup",
        "UnknownContactGroupError",
        "install_contact_groups",
    ),
    ".logger": ("ActivityLogger",),
    ".middleware": ("ActivityTrackingMiddleware",),
    ".origin": ("is_cross_site_request",),
    ".personalization": (
        "contact_groups",
        "is_in_all_contact_groups",
        "is_in_any_contact_group",
        "is_in_contact_group",
        "register_personalization",
    ),
    ".request_state": (
        "get_activity_logger",
        "get_cookie_level",
        "get_current_contact",
        "has_chosen_cookie_level",
        "set_cookie_level",
    ),
    ".script_tag": ("activity_logging_script", "add_to_templates"),
    ".storage": ("ActivityStore", "Store", "open_store"),
    ".visitor": ("Contact",),
}
_MODULE_OF = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'kxt_middleware' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


__all__ = [
    "Activity",
    "ActivityCondition",
    "ActivityLogger",
    "ActivitySource",
    "ActivityStore",
    "ActivityTrackingMiddleware",
    "ActivityType",
    "Contact",
    "ContactErasedError",
    "ContactGroup",
    "CookieLevel",
    "CustomActivityData",
    "KxtError",
    "LogResult",
    "LogStatus",
    "MiddlewareNotInstalledError",
    "NoRequestContextError",
    "Store",
    "StoreClosedError",
    "StoreError",
    "StoreOverloadedError",
    "UnknownActivityTypeError",
    "UnknownContactGroupError",
    "activity_logging_script",
    "add_to_templates",
    "code_name_from_display_name",
    "contact_groups",
    "cross_site_snippet",
    "current_activity_logger",
    "get_activity_logger",
    "get_cookie_level",
    "get_current_contact",
    "has_chosen_cookie_level",
    "install_contact_groups",
    "is_cross_site_request",
    "is_in_all_contact_groups",
    "is_in_any_contact_group",
    "is_in_contact_group",
    "open_store",
    "register_personalization",
    "set_cookie_level",
]
