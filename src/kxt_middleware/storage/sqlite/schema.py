"""The SQLite schema, as numbered migrations applied (once, under the write lock) on open."""

from __future__ import annotations

import sqlite3

from ..lifecycle import migrations_to_run

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
    (
        # Contact groups: conditions on activities, kept as JSON (ActivityCondition fields).
        """CREATE TABLE contact_groups (
            id INTEGER PRIMARY KEY,
            code_name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            display_name TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            match TEXT NOT NULL DEFAULT 'all' CHECK (match IN ('all', 'any')),
            conditions TEXT NOT NULL DEFAULT '[]',
            created TEXT NOT NULL,
            updated TEXT NOT NULL
        )""",
        # A row means "member until `expires`" (NULL: no time window can end the membership).
        """CREATE TABLE contact_group_members (
            group_id INTEGER NOT NULL REFERENCES contact_groups(id) ON DELETE CASCADE,
            contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
            since TEXT NOT NULL,
            expires TEXT,
            PRIMARY KEY (group_id, contact_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX contact_group_members_by_contact ON contact_group_members (contact_id)",
        """CREATE TABLE operators (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            password_hash TEXT NOT NULL,
            created TEXT NOT NULL
        )""",
        # (created, type) covers the per-day chart and the purge without reading the table.
        "DROP INDEX activities_by_created",
        "CREATE INDEX activities_by_created_type ON activities (created, type)",
    ),
    (
        # Headless tracking: channels, their API keys (hashed), consents and agreements.
        """CREATE TABLE channels (
            id INTEGER PRIMARY KEY,
            guid TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            created TEXT NOT NULL
        )""",
        """CREATE TABLE api_keys (
            id INTEGER PRIMARY KEY,
            channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
            key_id TEXT NOT NULL UNIQUE,
            secret_hash TEXT NOT NULL,
            created TEXT NOT NULL,
            revoked TEXT
        )""",
        """CREATE TABLE consents (
            code_name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
            display_name TEXT NOT NULL,
            short_text TEXT NOT NULL DEFAULT '',
            full_text TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL
        )""",
        """CREATE TABLE consent_agreements (
            contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
            consent TEXT NOT NULL COLLATE NOCASE,
            agreed INTEGER NOT NULL,
            updated TEXT NOT NULL,
            PRIMARY KEY (contact_id, consent)
        ) WITHOUT ROWID""",
    ),
    (
        # Cross-site tracking: external sites allowed to log for the main site's contacts.
        """CREATE TABLE sites (
            code_name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
            name TEXT NOT NULL,
            origin TEXT NOT NULL UNIQUE,
            enabled INTEGER NOT NULL DEFAULT 1,
            created TEXT NOT NULL
        )""",
    ),
    (
        # Contacts erased on request or when consent was revoked: never brought back.
        """CREATE TABLE erased_contacts (
            guid TEXT NOT NULL PRIMARY KEY,
            erased TEXT NOT NULL
        ) WITHOUT ROWID""",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(connection: sqlite3.Connection, database: str) -> None:
    """Bring the schema to SCHEMA_VERSION in one IMMEDIATE transaction (one process at a time)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        current = connection.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
        for version in migrations_to_run(database, current, SCHEMA_VERSION):
            for statement in MIGRATIONS[version - 1]:
                connection.execute(statement)
            connection.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def schema_version(connection: sqlite3.Connection) -> int:
    """The schema version of the database behind ``connection``."""
    row = connection.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0
