"""``kxt apikeys``, ``kxt consents``, ``kxt sites``: set-up for headless and cross-site tracking."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable
from typing import Any, TextIO

from .api_keys import api_keys, create_api_key, restore_api_key, revoke_api_key
from .consents import Consent, add_consent, consents
from .cross_site import cross_site_snippet
from .sites import Site, add_site, get_site, set_site_enabled, sites
from .storage import Store


class UsageError(Exception):
    """A bad argument: printed on one line, exit status 2."""


def add_commands(commands: Any, common: argparse.ArgumentParser, parser_class: type) -> None:
    """Add the apikeys, consents and sites commands to ``kxt``'s subcommands."""
    # creates_database: the command adds something, so it may create a missing database file.
    keys = commands.add_parser("apikeys", help="API keys of the headless tracking API")
    key_commands = keys.add_subparsers(
        dest="apikeys_command", required=True, parser_class=parser_class
    )
    create = key_commands.add_parser("create", help="create a key (shown once)", parents=[common])
    create.add_argument("--channel", required=True, help="channel code name, e.g. mobile_app")
    create.set_defaults(run=_keys_create, creates_database=True)
    key_commands.add_parser("list", help="list keys", parents=[common]).set_defaults(run=_keys_list)
    revoke = key_commands.add_parser("revoke", help="revoke a key by its id", parents=[common])
    revoke.add_argument("key_id", help="the id shown by 'kxt apikeys list'")
    revoke.set_defaults(run=_keys_revoke)
    restore = key_commands.add_parser(
        "restore", help="make a key revoked by mistake work again", parents=[common]
    )
    restore.add_argument("key_id", help="the id shown by 'kxt apikeys list'")
    restore.set_defaults(run=_keys_restore)

    consent = commands.add_parser("consents", help="consents contacts can agree to")
    consent_commands = consent.add_subparsers(
        dest="consents_command", required=True, parser_class=parser_class
    )
    add = consent_commands.add_parser("add", help="define a consent", parents=[common])
    add.add_argument("code", help="code name, e.g. tracking")
    add.add_argument("--name", required=True, help="display name")
    add.add_argument("--short", default="", help="short text shown to visitors")
    add.add_argument("--full", default="", help="full text")
    add.set_defaults(run=_consents_add, creates_database=True)
    consent_commands.add_parser("list", help="list consents", parents=[common]).set_defaults(
        run=_consents_list
    )

    site = commands.add_parser("sites", help="external sites for cross-site tracking")
    site_commands = site.add_subparsers(
        dest="sites_command", required=True, parser_class=parser_class
    )
    register = site_commands.add_parser("add", help="register a site", parents=[common])
    register.add_argument("code", help="code name, e.g. shop")
    register.add_argument("--name", required=True, help="display name")
    register.add_argument("--origin", required=True, help="https://host[:port] of the site")
    register.add_argument("--disabled", action="store_true", help="register it disabled")
    register.set_defaults(run=_sites_add, creates_database=True)
    site_commands.add_parser("list", help="list sites", parents=[common]).set_defaults(
        run=_sites_list
    )
    for verb in ("enable", "disable"):
        toggle = site_commands.add_parser(verb, help=f"{verb} a site", parents=[common])
        toggle.add_argument("code", help="code name of the site")
        toggle.set_defaults(run=_sites_toggle, enabled=verb == "enable")
    snippet = site_commands.add_parser(
        "snippet", help="print the snippet for a site's pages", parents=[common]
    )
    snippet.add_argument("code", help="code name of the site")
    snippet.add_argument("--main-site", required=True, help="https origin of the main site")
    snippet.add_argument("--prefix", default="/Kentico.Tracking", help="the middleware's prefix")
    snippet.add_argument("--function-name", default="kxt", help="the logging function's name")
    snippet.set_defaults(run=_sites_snippet)


async def _keys_create(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    try:
        token, key = await create_api_key(store, args.channel)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out.write(
        f"API key {key.key_id} for channel {key.channel.name} ({key.channel.guid}):\n{token}\n"
        "Store it now: it is not shown again.\n"
    )


async def _keys_list(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    out.write("KEY ID        CHANNEL  CHANNEL GUID  CREATED  REVOKED\n")
    for key in await api_keys(store):
        revoked = key.revoked.isoformat() if key.revoked else "-"
        out.write(
            f"{key.key_id}  {key.channel.name}  {key.channel.guid}  "
            f"{key.created.isoformat()}  {revoked}\n"
        )


async def _keys_revoke(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    await _change_key(revoke_api_key(store, args.key_id), f"revoked API key {args.key_id}", out)


async def _keys_restore(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    restored = f"API key {args.key_id} works again"
    await _change_key(restore_api_key(store, args.key_id), restored, out)


async def _change_key(change: Awaitable[None], done: str, out: TextIO) -> None:
    try:
        await change
    except LookupError as exc:
        raise UsageError(str(exc)) from None
    out.write(done + "\n")


async def _consents_add(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    try:
        await add_consent(store, Consent(args.code, args.name, args.short, args.full))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out.write(f"created consent {args.code}\n")


async def _consents_list(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    for consent in await consents(store):
        out.write(f"{consent.code_name}  {consent.display_name}  {consent.short_text}\n")


async def _sites_add(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    try:
        site = Site(args.code, args.name, args.origin, enabled=not args.disabled)
        await add_site(store, site)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out.write(f"registered site {site.code_name} ({site.origin})\n")


async def _sites_list(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    for site in await sites(store):
        state = "enabled" if site.enabled else "disabled"
        out.write(f"{site.code_name}  {site.name}  {site.origin}  {state}\n")


async def _sites_toggle(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    try:
        site = await set_site_enabled(store, args.code, args.enabled)
    except LookupError as exc:
        raise UsageError(str(exc)) from None
    out.write(f"{site.code_name} is now {'enabled' if site.enabled else 'disabled'}\n")


async def _sites_snippet(store: Store, args: argparse.Namespace, out: TextIO) -> None:
    if await get_site(store, args.code) is None:
        raise UsageError(f"there is no site {args.code!r}; list them with `kxt sites list`")
    try:
        snippet = cross_site_snippet(
            args.main_site, prefix=args.prefix, logging_function_name=args.function_name
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out.write(snippet + "\n")
