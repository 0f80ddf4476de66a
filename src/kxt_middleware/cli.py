"""The ``kxt`` command: its parser and entry point, activity types and the activity log (the
other commands: cli_users, cli_maintenance, cli_channels)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
import uuid
from collections.abc import Callable, Coroutine, Sequence
from datetime import date
from typing import Any, NoReturn, TextIO

from .activities import EXPORT_FIELDS, ActivityFilter
from .activity_types import ActivityType
from .cli_channels import UsageError, add_commands
from .cli_maintenance import add_maintenance_commands
from .cli_output import byte_writer, export_processes, interrupted, progress_bar
from .cli_users import PasswordReader, add_user_commands, read_password, run_users_create
from .errors import KxtError, StoreError
from .storage import Store, check_database, is_server_url, open_store

DEFAULT_DATABASE = "kxt.sqlite3"
ACTIVITY_FIELDS = EXPORT_FIELDS  # the CSV header and the JSON keys, in this order


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


Command = Callable[[Store, argparse.Namespace, TextIO], Coroutine[Any, Any, None]]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``kxt``."""
    parser = _Parser(
        prog="kxt",
        description="Manage the database of a site that uses kxt-middleware: activity types, "
        "the activity log, operators, contact groups, purging, API keys, consents and sites.",
    )
    parser.add_argument(
        "--database",
        default=os.environ.get("KXT_DATABASE", DEFAULT_DATABASE),
        help="SQLite file of the site (default: $KXT_DATABASE or kxt.sqlite3)",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar (it shows only when stderr is a terminal)",
    )
    # --database and --quiet are accepted after the command too (`kxt activities -q`).
    common = _Parser(add_help=False)
    common.add_argument("--database", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    types = commands.add_parser("types", help="list, add, enable or disable activity types")
    type_commands = types.add_subparsers(dest="types_command", required=True, parser_class=_Parser)
    type_commands.add_parser("list", help="list activity types", parents=[common]).set_defaults(
        run=_types_list
    )
    add = type_commands.add_parser("add", help="create a custom activity type", parents=[common])
    add.add_argument("code", help="code name, e.g. custom_loan_calculator")
    add.add_argument("--name", required=True, help="display name, e.g. 'Loan calculator usage'")
    add.add_argument("--description", default="", help="what the activity tracks")
    add.add_argument("--disabled", action="store_true", help="create it disabled")
    add.set_defaults(run=_types_add, creates_database=True)
    for verb in ("enable", "disable"):
        toggle = type_commands.add_parser(verb, help=f"{verb} an activity type", parents=[common])
        toggle.add_argument("code", help="code name of the activity type")
        toggle.set_defaults(run=_types_toggle, enabled=verb == "enable")

    activities = commands.add_parser(
        "activities", help="print the activity log, oldest first", parents=[common]
    )
    activities.add_argument("--contact", type=_guid, help="only this contact's activities")
    activities.add_argument("--type", help="only activities of this type (code name)")
    activities.add_argument(
        "--since",
        type=_day,
        help="only activities from this UTC day on (YYYY-MM-DD), e.g. for a nightly export",
    )
    activities.add_argument(
        "--until", type=_day, help="only activities up to and including this UTC day (YYYY-MM-DD)"
    )
    activities.add_argument(
        "--format",
        choices=("jsonl", "csv"),
        default="jsonl",
        help="jsonl (default): one JSON object per line; csv: a header row, then one record per "
        "activity, quoted as RFC 4180 says: a value with a comma, a quote or a line break is "
        "quoted, so one record can span several lines; read it with a CSV parser, not line by "
        "line",
    )
    activities.set_defaults(run=_activities)

    add_user_commands(commands, common, _Parser)

    add_maintenance_commands(commands, common, _Parser)
    add_commands(commands, common, _Parser)
    _name_the_choices(parser)
    return parser


def _name_the_choices(parser: argparse.ArgumentParser) -> None:
    """Show every command's choices where argparse would show its internal name (``kxt types``
    alone says ``required: {list,add,enable,disable}``, not ``required: types_command``)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            action.metavar = "{" + ",".join(action.choices) + "}"
            for command in action.choices.values():
                _name_the_choices(command)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day: use YYYY-MM-DD") from None


def _guid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a contact GUID") from None


async def _types_list(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    rows = [
        (t.code_name, t.display_name, "built-in" if t.built_in else "custom", t.enabled)
        for t in await store.activity_types()
    ]
    width = max([len("CODE NAME"), *(len(row[0]) for row in rows)])
    name_width = max([len("NAME"), *(len(row[1]) for row in rows)])
    out.write(f"{'CODE NAME':<{width}}  {'NAME':<{name_width}}  KIND      ENABLED\n")
    for code, name, kind, enabled in rows:
        out.write(
            f"{code:<{width}}  {name:<{name_width}}  {kind:<8}  {'yes' if enabled else 'no'}\n"
        )


async def _types_add(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    try:
        activity_type = ActivityType(
            args.code, args.name, args.description, enabled=not args.disabled
        )
        await store.add_activity_type(activity_type)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out.write(f"created activity type {activity_type.code_name}\n")


async def _types_toggle(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    try:
        updated = await store.update_activity_type(args.code, enabled=args.enabled)
    except (ValueError, LookupError) as exc:
        raise UsageError(str(exc)) from None
    out.write(f"{updated.code_name} is now {'enabled' if updated.enabled else 'disabled'}\n")


async def _activities(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    if args.since and args.until and args.until < args.since:
        raise UsageError("--until is before --since; swap them")
    if args.type and args.type.lower() not in {t.key for t in await store.activity_types()}:
        raise UsageError(
            f"there is no activity type {args.type!r}; list them with `kxt types list`"
        )
    filters = ActivityFilter(type=args.type, contact=args.contact, start=args.since, end=args.until)
    total = await store.count_activities(filters)
    write = byte_writer(out)
    written = 0
    chunks = store.export_activities(filters, args.format, processes=export_processes())
    with progress_bar("exporting", total, " activities", quiet=args.quiet) as bar:
        try:
            async with contextlib.aclosing(chunks):
                async for data, count in chunks:
                    write(data)
                    written += count
                    bar.update(count)
        except asyncio.CancelledError:
            interrupted(f"wrote {written:,} of {total:,} activities (oldest first)")
            raise


async def _run(args: argparse.Namespace, out: TextIO) -> None:
    # One command writes as one caller: a writer thread spares it starting a writer process.
    options = {} if is_server_url(args.database) else {"writer": "thread"}
    async with open_store(args.database, **options) as store:
        await args.run(store, args, out)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _database_problem(database: str, exc: BaseException) -> str:
    """One line saying why the database could not be used."""
    if isinstance(exc, StoreError):  # its message names the database and says what to do
        return _one_line(str(exc))
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return _one_line(f"cannot use the database {database!r}: {exc.strerror}{where}")
    return _one_line(f"cannot use the database {database!r}: {exc}; check --database")


def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    stdin: TextIO | None = None,
    ask: PasswordReader = getpass.getpass,
) -> int:
    """Run ``kxt``; returns the exit status (0, 1 for other errors, 2 for bad arguments).

    Bad arguments and an unusable database end with one ``kxt: error: ...`` line on stderr
    and SystemExit(2), as argparse does.
    """
    parser = build_parser()
    args = parser.parse_args(argv)

    def fail(message: str) -> NoReturn:
        parser.exit(2, f"{parser.prog}: error: {message}\n")

    # Only the commands that add something may create the file: anything else on a missing
    # file is a mistyped --database, and must not leave an empty database behind.
    try:
        check_database(args.database, create=getattr(args, "creates_database", False))
    except (StoreError, ValueError, OSError) as exc:
        fail(_database_problem(args.database, exc))
    reader = stdin or sys.stdin
    args.read_password = lambda: read_password(reader, ask)
    if args.run is run_users_create:
        try:
            args.password = args.read_password()
        except (ValueError, EOFError) as exc:
            parser.error(str(exc) or "no password given")
    try:
        asyncio.run(_run(args, out or sys.stdout))
    except UsageError as exc:  # the arguments parse, but say something that cannot be done
        fail(str(exc))
    except BrokenPipeError:  # `kxt activities | head` closed the pipe: not an error
        sys.stderr.close()
    except KeyboardInterrupt:  # Ctrl+C: the command said how far it got
        return 130
    except (StoreError, OSError) as exc:
        fail(_database_problem(args.database, exc))
    except KxtError as exc:
        sys.stderr.write(f"kxt: {exc}\n")
        return 1
    return 0
