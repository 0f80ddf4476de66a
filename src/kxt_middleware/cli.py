"""The ``kxt`` command: activity types, the activity log, operators, contact groups, purging."""

from __future__ import annotations

import argparse
import asyncio
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
from .cli_output import Export, progress_bar
from .errors import KxtError, StoreError
from .groups import (
    contact_groups,
    member_counts,
    recalculate_contact_group,
)
from .operators import (
    check_password,
    create_operator,
    delete_operator,
    operator_exists,
    operators,
    set_operator_password,
)
from .retention import parse_age, purge_activities
from .storage import Store, check_database, open_store

DEFAULT_DATABASE = "kxt.sqlite3"
ACTIVITY_FIELDS = EXPORT_FIELDS  # the CSV header and the JSON keys, in this order


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


Command = Callable[[Store, argparse.Namespace, TextIO], Coroutine[Any, Any, None]]
PasswordReader = Callable[[str], str]


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

    users = commands.add_parser("users", help="operators who sign in to the admin")
    user_commands = users.add_subparsers(dest="users_command", required=True, parser_class=_Parser)
    user_commands.add_parser("list", help="list operators", parents=[common]).set_defaults(
        run=_users_list
    )
    create = user_commands.add_parser(
        "create",
        help="create an operator (password asked, or read from the first line of stdin)",
        parents=[common],
    )
    create.add_argument("name", help="sign-in name, e.g. jane")
    create.set_defaults(run=_users_create, creates_database=True)
    delete = user_commands.add_parser("delete", help="delete an operator", parents=[common])
    delete.add_argument("name", help="sign-in name")
    delete.set_defaults(run=_users_delete)
    password = user_commands.add_parser(
        "password",
        help="give an operator a new password (asked, or read from the first line of stdin)",
        parents=[common],
    )
    password.add_argument("name", help="sign-in name")
    password.set_defaults(run=_users_password)

    groups = commands.add_parser("groups", help="list or recalculate contact groups")
    group_commands = groups.add_subparsers(
        dest="groups_command", required=True, parser_class=_Parser
    )
    group_commands.add_parser(
        "list", help="list contact groups with their members", parents=[common]
    ).set_defaults(run=_groups_list)
    recalculate = group_commands.add_parser(
        "recalculate", help="rebuild the members of a group, in batches", parents=[common]
    )
    which = recalculate.add_mutually_exclusive_group(required=True)
    which.add_argument("code", nargs="?", help="code name of the contact group")
    which.add_argument("--all", action="store_true", help="every contact group")
    recalculate.set_defaults(run=_groups_recalculate)

    purge = commands.add_parser(
        "purge", help="delete old activities in short batches", parents=[common]
    )
    purge.add_argument(
        "--older-than", required=True, type=_age, help="age such as 365d (days) or 52w (weeks)"
    )
    purge.add_argument("--batch-size", type=_positive, default=5_000, help="rows per transaction")
    purge.set_defaults(run=_purge)
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


def _age(text: str) -> Any:
    try:
        return parse_age(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


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
    export = Export(out, args.format)
    total = await store.count_activities(filters)
    written = 0
    with progress_bar("exporting", total, " activities", quiet=args.quiet) as bar:
        try:
            async for page in store.activity_records(filters):
                export.write(page)
                written += len(page)
                bar.update(len(page))
        except asyncio.CancelledError:
            interrupted(f"wrote {written:,} of {total:,} activities (oldest first)")
            raise


async def _users_list(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    for operator in await operators(store):
        out.write(f"{operator.name}\t{operator.created}\n")


async def _users_create(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    password = args.password
    try:
        await create_operator(store, args.name, password)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out.write(f"created operator {args.name}\n")


async def _users_delete(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    try:
        await delete_operator(store, args.name)
    except LookupError as exc:
        raise UsageError(str(exc)) from None
    out.write(f"deleted operator {args.name}\n")


async def _users_password(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    # The name is checked before the password is asked for, so a typo costs no typing.
    if not await operator_exists(store, args.name):
        raise UsageError(f"there is no operator {args.name!r}; list them with `kxt users list`")
    try:
        password = args.read_password()
    except (ValueError, EOFError) as exc:
        raise UsageError(str(exc) or "no password given") from None
    try:
        await set_operator_password(store, args.name, password)
    except LookupError as exc:  # deleted meanwhile
        raise UsageError(str(exc)) from None
    out.write(f"changed the password of operator {args.name}\n")


def read_password(stdin: TextIO, ask: PasswordReader = getpass.getpass) -> str:
    """Ask for a new password twice on a terminal, or read the first line of piped stdin."""
    if stdin.isatty():
        password = ask("Password: ")
        check_password(password)
        if ask("Password again: ") != password:
            raise ValueError("the two passwords differ; run the command again")
        return password
    return check_password(stdin.readline().rstrip("\r\n"))


async def _groups_list(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    counts = await member_counts(store)
    for group in await contact_groups(store):
        members = counts.get(group.code_name, 0)
        out.write(f"{group.code_name}\t{group.display_name}\t{members}\t{group.describe()}\n")


async def _groups_recalculate(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    codes = [group.code_name for group in await contact_groups(store)] if args.all else [args.code]
    contacts = await store.count_contacts()
    for code in codes:
        with progress_bar(code, contacts, " contacts", quiet=args.quiet) as bar:
            try:
                members = await recalculate_contact_group(store, code, progress=bar.update)
            except LookupError as exc:
                raise UsageError(str(exc)) from None
            except asyncio.CancelledError:
                interrupted(
                    f"{code} recalculated for {bar.n:,} of {contacts:,} contacts; each batch "
                    "is committed whole, the other contacts keep their memberships; run the "
                    "command again to finish"
                )
                raise
        out.write(f"{code}: {members} member{'' if members == 1 else 's'}\n")


async def _purge(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    cutoff = store.clock() - args.older_than
    total = await store.count_activities(created_before=cutoff)
    with progress_bar("purging", total, " activities", quiet=args.quiet) as bar:
        try:
            deleted = await purge_activities(
                store, args.older_than, batch_size=args.batch_size, progress=bar.update
            )
        except asyncio.CancelledError:
            interrupted(
                f"deleted {bar.n:,} of {total:,} activities older than {args.older_than.days} "
                "days; each batch is committed whole with its contacts' groups, so the database "
                "is consistent; run the command again to finish"
            )
            raise
    out.write(f"deleted {deleted} activit{'y' if deleted == 1 else 'ies'}\n")


def interrupted(what: str) -> None:
    """Say on stderr how far an interrupted command got."""
    sys.stderr.write(f"kxt: interrupted: {what}\n")


async def _run(args: argparse.Namespace, out: TextIO) -> None:
    async with open_store(args.database) as store:
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
    if args.run is _users_create:
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
