"""The database schema, as numbered migrations the store applies on open."""

from __future__ import annotations

# Each entry upgrades the schema by one version; never edit a released entry, append a new one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE activity_types (
            code_name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
            display_name TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            enabled INTEGER NOT NULL DEFAULT 1,
            built_in INTEGER NOT NULL DEFAULT 0,
            created TEXT NOT NULL
        )""",
        """CREATE TABLE contacts (
            id INTEGER PRIMARY KEY,
            guid TEXT NOT NULL UNIQUE,
            created TEXT NOT NULL
        )""",
        """CREATE TABLE activities (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
            type TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            value TEXT NOT NULL DEFAULT '',
            url TEXT NOT NULL DEFAULT '',
            referrer TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL,
            source TEXT NOT NULL,
            site TEXT
        )""",
        "CREATE INDEX activities_by_contact ON activities (contact_id, id)",
        "CREATE INDEX activities_by_type ON activities (type, id)",
        "CREATE INDEX activities_by_created ON activities (created)",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)
