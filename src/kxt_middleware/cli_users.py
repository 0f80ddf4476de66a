"""``kxt users``: the operators who sign in to the admin."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable
from typing import Any, TextIO

from .cli_channels import UsageError
from .operators import (
    check_password,
    create_operator,
    delete_operator,
    operator_exists,
    operators,
    set_operator_password,
)
from .storage import Store

PasswordReader = Callable[[str], str]


def add_user_commands(commands: Any, common: argparse.ArgumentParser, parser_class: type) -> None:
    """Add ``kxt users list|create|delete|password`` to ``kxt``'s subcommands."""
    users = commands.add_parser("users", help="operators who sign in to the admin")
    user_commands = users.add_subparsers(
        dest="users_command", required=True, parser_class=parser_class
    )
    user_commands.add_parser("list", help="list operators", parents=[common]).set_defaults(
        run=_users_list
    )
    create = user_commands.add_parser(
        "create",
        help="create an operator (password asked, or read from the first line of stdin)",
        parents=[common],
    )
    create.add_argument("name", help="sign-in name, e.g. jane")
    create.set_defaults(run=run_users_create, creates_database=True)
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


async def _users_list(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    for operator in await operators(store):
        out.write(f"{operator.name}\t{operator.created}\n")


async def run_users_create(store: Store, args: argparse.Namespace, out: TextIO) -> None:
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
