"""``kxt groups`` and ``kxt purge``: long work on a big database, in committed batches."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any, TextIO

from .cli_channels import UsageError
from .cli_output import interrupted, progress_bar
from .groups import contact_groups, member_counts, recalculate_contact_group
from .retention import parse_age, purge_activities
from .storage import Store


def add_maintenance_commands(
    commands: Any, common: argparse.ArgumentParser, parser_class: type
) -> None:
    """Add ``kxt groups list|recalculate`` and ``kxt purge`` to ``kxt``'s subcommands."""
    groups = commands.add_parser("groups", help="list or recalculate contact groups")
    group_commands = groups.add_subparsers(
        dest="groups_command", required=True, parser_class=parser_class
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


def _age(text: str) -> Any:
    try:
        return parse_age(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


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
