"""The catalogue's commands: `create-<kind>`, `update-<kind>` and `list-<kind>s` for carrier
rate plans (per provider), Rev customers, customer rate plans and pools (per tenant)."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from devicebulk_admin import catalogue
from devicebulk_admin.runtime import Sessionmaker
from devicebulk_common.settings import CommonSettings

Command = Callable[[argparse.Namespace, Sessionmaker, CommonSettings], Awaitable[Any]]


def _owner_flag(kind: catalogue.Kind) -> str:
    return f"--{kind.owner}"


def _key_flag(kind: catalogue.Kind) -> str:
    return f"--{kind.key_column}"


def _active_flags(p: argparse.ArgumentParser, default: bool | None) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--active", dest="active", action="store_true", default=default)
    group.add_argument("--inactive", dest="active", action="store_false")


def add_parsers(
    sub: Any, common: argparse.ArgumentParser, owner_id: Callable[[str], int]
) -> dict[str, Command]:
    """Adds the three commands of every kind to `sub`; returns them by command name."""
    commands: dict[str, Command] = {}
    for slug, kind in catalogue.KINDS.items():
        owner_help = f"the {kind.owner}'s id"
        key_help = f"the {kind.name}'s {kind.key_column}"
        p = sub.add_parser(f"create-{slug}", parents=[common], help=f"add a {kind.name}")
        p.add_argument(
            _owner_flag(kind), dest="owner", type=owner_id, required=True, help=owner_help
        )
        p.add_argument(_key_flag(kind), dest="key", required=True, help=key_help)
        p.add_argument("--name", required=kind.key_column == "id")
        _active_flags(p, default=True)
        p.add_argument("--if-not-exists", action="store_true", help="an existing one is a no-op")
        commands[f"create-{slug}"] = partial(_create, kind)

        p = sub.add_parser(f"update-{slug}", parents=[common], help=f"change a {kind.name}")
        p.add_argument(
            _owner_flag(kind), dest="owner", type=owner_id, required=True, help=owner_help
        )
        p.add_argument(_key_flag(kind), dest="key", required=True, help=key_help)
        p.add_argument("--name")
        _active_flags(p, default=None)
        commands[f"update-{slug}"] = partial(_update, kind)

        p = sub.add_parser(f"list-{slug}s", parents=[common], help=f"list the {kind.name}s")
        p.add_argument(
            _owner_flag(kind), dest="owner", type=owner_id, required=True, help=owner_help
        )
        commands[f"list-{slug}s"] = partial(_list, kind)
    return commands


async def _create(
    kind: catalogue.Kind, args: argparse.Namespace, db: Sessionmaker, _: CommonSettings
) -> Any:
    return await catalogue.create_entry(
        db,
        kind,
        owner_id=args.owner,
        key=catalogue.parse_key(kind, args.key),
        name=args.name,
        active=args.active,
        if_not_exists=args.if_not_exists,
    )


async def _update(
    kind: catalogue.Kind, args: argparse.Namespace, db: Sessionmaker, _: CommonSettings
) -> Any:
    return await catalogue.update_entry(
        db,
        kind,
        owner_id=args.owner,
        key=catalogue.parse_key(kind, args.key),
        name=args.name,
        active=args.active,
    )


async def _list(
    kind: catalogue.Kind, args: argparse.Namespace, db: Sessionmaker, _: CommonSettings
) -> Any:
    return await catalogue.list_entries(db, kind, owner_id=args.owner)
