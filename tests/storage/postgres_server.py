"""A throwaway PostgreSQL server for the tests, started from the machine's own binaries.

``KXT_TEST_POSTGRES_URL`` (``postgresql://user:password@host:port/postgres``) points the tests
at a server of yours instead; they create and drop databases named ``kxt_test_*`` on it.

Otherwise the tests run Debian's PostgreSQL (installed with apt-get when it is missing) as the
``postgres`` system user (the server refuses to run as root), with its data and its socket in a
temporary folder, and stop it at the end even when tests fail. A PostgreSQL that cannot be found
or started is an error saying why, never a skipped test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg

from kxt_middleware.storage import open_store

URL_VARIABLE = "KXT_TEST_POSTGRES_URL"
PREFIX = "kxt_test_"
# Debian's postgresql package; its version directory holds initdb and pg_ctl.
DEBIAN_ROOT = Path("/usr/lib/postgresql")


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL to test against, and why."""


def binaries() -> Path:
    """The bin folder of the newest PostgreSQL installed (installing it with apt-get if none)."""
    found = _installed()
    if found is None:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise PostgresUnavailable(
                "PostgreSQL is not installed and cannot be installed here (needs root and "
                f"apt-get): install the postgresql package, or set {URL_VARIABLE} to a server"
            )
        for step in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "postgresql"]):
            done = subprocess.run(step, capture_output=True, text=True, env=_apt_env())
            if done.returncode != 0:
                raise PostgresUnavailable(f"{' '.join(step)} failed:\n{done.stderr[-2000:]}")
        found = _installed()
        if found is None:
            raise PostgresUnavailable("apt-get installed postgresql, but no initdb was found")
    return found


def _apt_env() -> dict[str, str]:
    return {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def _installed() -> Path | None:
    versions = sorted(
        (p for p in DEBIAN_ROOT.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return versions[-1] if versions else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user() -> tuple[list[str], str]:
    """The command prefix that runs the server's tools as a user it accepts, and that user."""
    if os.geteuid() != 0:
        return [], pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable(
            "PostgreSQL refuses to run as root and there is no 'postgres' user: install the "
            f"postgresql package (it creates the user), or set {URL_VARIABLE}"
        ) from None
    return ["runuser", "-u", "postgres", "--"], "postgres"


@contextlib.contextmanager
def throwaway_server(*, fast: bool = True) -> Iterator[str]:
    """Start a PostgreSQL server in a temporary folder; yield the URL of its ``postgres``
    database; stop it and remove the folder at the end.

    ``fast`` turns fsync off (the data is thrown away): for tests, never for measurements.
    """
    bin_dir = binaries()
    prefix, user = _as_server_user()
    folder = Path(tempfile.mkdtemp(prefix="kxt-postgres-"))
    data, sockets = folder / "data", folder / "socket"
    sockets.mkdir()
    if prefix:
        shutil.chown(folder, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    settings = [
        f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets}",
        "-c max_connections=200 -c shared_buffers=128MB",
    ]
    if fast:
        settings.append("-c fsync=off -c full_page_writes=off -c synchronous_commit=off")
    started = False
    try:
        _run(
            [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", user, "--auth=trust",
             "--encoding=UTF8", "--locale=C.UTF-8"]
        )  # fmt: skip
        _run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"),
             "-o", " ".join(settings), "-w", "-t", "60", "start"]
        )  # fmt: skip
        started = True
        yield f"postgresql://{user}@127.0.0.1:{port}/postgres"
    except PostgresUnavailable as exc:
        log = folder / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise PostgresUnavailable(f"{exc}\n{tail}") from None
    finally:
        if started:
            subprocess.run(
                [
                    *prefix,
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                capture_output=True,
            )
        shutil.rmtree(folder, ignore_errors=True)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise PostgresUnavailable(
            f"{Path(command[command.index('--') + 1] if '--' in command else command[0]).name} "
            f"failed ({done.returncode}): {done.stderr.strip()[-2000:] or done.stdout[-2000:]}"
        )


def database_url(server: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server`` (a URL of another database)."""
    base, _, query = server.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


class Databases:
    """Creates a fresh database per test (a file copy of a migrated template), and drops them."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.template = f"{PREFIX}template_{uuid.uuid4().hex[:8]}"
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kxt-test-pg")
        self._sql(f"CREATE DATABASE {self.template}")

        async def migrate() -> None:
            async with open_store(database_url(server, self.template)):
                pass

        self._thread.submit(lambda: asyncio.run(migrate())).result()

    def _sql(self, *statements: str) -> None:
        async def run() -> None:
            connection = await asyncpg.connect(self.server, timeout=30)
            try:
                for statement in statements:
                    await connection.execute(statement)
            finally:
                await connection.close()

        self._thread.submit(lambda: asyncio.run(run())).result()

    def fresh(self, *, migrated: bool = True) -> str:
        """The URL of a new database: with the schema and nothing else, or (``migrated=False``)
        without even the schema."""
        name = f"{PREFIX}{uuid.uuid4().hex[:12]}"
        template = self.template if migrated else "template0"
        self._sql(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
        return database_url(self.server, name)

    def drop(self, url: str) -> None:
        """Drop a database made by :meth:`fresh` (closing what is still connected to it)."""
        name = url.split("?")[0].rsplit("/", 1)[1]
        assert name.startswith(PREFIX), name
        self._sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def close(self) -> None:
        try:
            self._sql(f"DROP DATABASE IF EXISTS {self.template} WITH (FORCE)")
        finally:
            self._thread.shutdown()
