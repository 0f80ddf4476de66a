"""The marketer admin: activity types, the activity log, contacts and contact groups."""

from .app import AdminApp, admin_app

__all__ = ["AdminApp", "admin_app"]
