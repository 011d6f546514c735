"""The operating commands: rotations (callback credentials). Defaults come from
:class:`AdminSettings`."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from devicebulk_admin import callback_rotation
from devicebulk_admin.durations import parse_duration
from devicebulk_admin.runtime import Sessionmaker
from devicebulk_admin.settings import AdminSettings

Command = Callable[[argparse.Namespace, Sessionmaker, AdminSettings], Awaitable[Any]]


def add_parsers(
    sub: Any, common: argparse.ArgumentParser, positive: Callable[[str], int]
) -> dict[str, Command]:
    p = sub.add_parser(
        "rotate-callback-credentials",
        parents=[common],
        help="new callback credentials and path secret, the old ones kept for a grace period",
        description="Stores a new callback username, password and path secret, waits until the "
        "callback receivers loaded them (CALLBACKS_PROVIDER_CACHE_S), registers them with the "
        "carrier, and keeps the old ones accepted for --grace (CALLBACKS_ROTATION_GRACE_S).",
    )
    p.add_argument("--provider", type=positive, required=True)
    p.add_argument("--url-base", help="default: the base of the URL the carrier has now")
    p.add_argument("--grace", type=parse_duration, help="e.g. 1h (default from the settings)")
    p.add_argument(
        "--force", action="store_true", help="rotate even while an earlier grace period runs"
    )

    return {
        "rotate-callback-credentials": _rotate_callback_credentials,
    }


def _key(settings: AdminSettings) -> str:
    return settings.credentials_key.get_secret_value()


async def _rotate_callback_credentials(
    args: argparse.Namespace, db: Sessionmaker, settings: AdminSettings
) -> Any:
    grace = args.grace
    if grace is None:
        grace = timedelta(seconds=settings.callbacks_rotation_grace_s)
    return await callback_rotation.rotate_callback_credentials(
        db,
        provider_id=args.provider,
        credentials_key=_key(settings),
        grace=grace,
        propagation_wait_s=settings.callbacks_provider_cache_s,
        url_base=args.url_base,
        force=args.force,
    )
