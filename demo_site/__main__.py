"""``python -m demo_site``: run the Demo Bank site on an embedded SQLite file.

Starting twice on the same database reuses it, with the same signing key and admin password
(kept in files beside the database).
"""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import uvicorn

from .app import ADMIN_NAME, DEFAULT_DATABASE, DemoFiles, create_app


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _kxt_command() -> str:
    """How to run the ``kxt`` command installed beside this Python (``kxt`` if not found)."""
    found = shutil.which("kxt", path=os.path.dirname(sys.executable))
    return _shown(Path(found)) if found else "kxt"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m demo_site", description="Run the Demo Bank site of kxt-middleware."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument(
        "--database",
        type=Path,
        default=DEFAULT_DATABASE,
        help=f"SQLite file, created when missing (default: {_shown(DEFAULT_DATABASE)})",
    )
    args = parser.parse_args(argv)
    files = DemoFiles(args.database)
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{args.port}"

    def announce() -> None:
        print(
            f"Demo Bank: {url}/\n"
            f"Admin:     {url}/admin/  sign in as {ADMIN_NAME} / {files.admin_password()}\n"
            f"           (password kept in {_shown(files.password_file)})\n"
            f"Database:  {_shown(files.database)}\n"
            f"Activity log: {_kxt_command()} --database {_shown(files.database)} activities\n"
            "Stop with Ctrl+C.",
            flush=True,
        )

    try:
        listening = _listen(args.host, args.port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            hint = (
                f"Port {args.port} is already in use (address already in use): stop what runs "
                f'there, or start the demo on another port: make demo DEMO_ARGS="--port '
                f'{_other_port(args.port)}"'
            )
        else:
            hint = f"Cannot listen on {url}: {exc.strerror}."
        print(hint, file=sys.stderr)
        sys.exit(3)
    config = uvicorn.Config(
        create_app(args.database), host=args.host, port=args.port, log_level="warning"
    )
    server = _AnnouncingServer(config, announce)
    try:
        server.run(sockets=[listening])
    except KeyboardInterrupt:  # Ctrl+C: uvicorn has shut down gracefully, then re-raised it
        print("Demo Bank stopped.", flush=True)
        return
    finally:
        listening.close()
    if not server.started:  # the site failed to start (uvicorn said why)
        sys.exit(3)


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port``, so a port in use is found before the site starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
    except OSError:
        listening.close()
        raise
    return listening


def _other_port(port: int) -> int:
    """A port to suggest instead of ``port``."""
    return port + 1 if port < 65535 else 8001


class _AnnouncingServer(uvicorn.Server):
    """A server that prints where the demo is once it really listens there."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[], None]) -> None:
        super().__init__(config)
        self._announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._announce()


if __name__ == "__main__":
    main()
