"""The operating commands: rotations (callback credentials, the credentials key), provider
changes and listing, and the retention purge. Defaults come from :class:`AdminSettings`."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from devicebulk_admin import callback_rotation, keys, provider_admin, purge
from devicebulk_admin.durations import parse_duration
from devicebulk_admin.provider_options import parse_options
from devicebulk_admin.runtime import Sessionmaker
from devicebulk_admin.settings import AdminSettings


def add_option_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an integration option (JSON values allowed, e.g. status_targets='[\"ACTIVATED\"]'); "
        "repeatable",
    )


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

    sub.add_parser(
        "rotate-credentials-key",
        parents=[common],
        help="re-encrypt every stored secret with the first key of CREDENTIALS_KEY",
        description="One transaction: carrier credentials, callback passwords and cached "
        "carrier tokens, decrypted with any key of CREDENTIALS_KEY (comma-separated), "
        "encrypted with the first. Afterwards the other keys can be removed.",
    )

    p = sub.add_parser(
        "update-provider",
        parents=[common],
        help="change a carrier account (writes, rate limit, base URL, credentials, options)",
        description="Credentials come from --credentials-file (JSON) or --credentials-from-env "
        "(THINGSPACE_CLIENT_KEY, THINGSPACE_CLIENT_SECRET, THINGSPACE_USERNAME, "
        "THINGSPACE_PASSWORD), never from the command line; replacing them (or the base URL) "
        "drops the account's cached carrier tokens. --option key=value sets an integration "
        "option (docs/jasper.md lists Control Center's), checked before it is stored.",
    )
    p.add_argument("--id", type=positive, required=True)
    writes = p.add_mutually_exclusive_group()
    writes.add_argument("--writes-enabled", dest="write_enabled", action="store_true")
    writes.add_argument("--writes-disabled", dest="write_enabled", action="store_false")
    p.set_defaults(write_enabled=None)
    limit = p.add_mutually_exclusive_group()
    limit.add_argument("--rate-limit-per-minute", type=positive)
    limit.add_argument("--no-rate-limit", action="store_true", help="remove the rate limit")
    p.add_argument("--base-url")
    creds = p.add_mutually_exclusive_group()
    creds.add_argument("--credentials-from-env", action="store_true")
    creds.add_argument("--credentials-file", type=Path, help="JSON with the four credentials")
    add_option_arguments(p)
    p.add_argument(
        "--clear-option",
        action="append",
        default=[],
        metavar="KEY",
        help="remove a stored option (the services' default applies again); repeatable",
    )

    sub.add_parser(
        "list-providers", parents=[common], help="the carrier accounts, without any secret"
    )

    p = sub.add_parser(
        "purge",
        parents=[common],
        help="delete published outbox rows, reconciled callbacks and old audit texts",
        description="Older than the horizon and not of a bulk change in flight: published "
        "outbox rows and reconciled callbacks are deleted, audit rows lose their carrier "
        "request/response texts (their summaries stay); bulk and device changes are kept. "
        "Small batches, each its own short transaction.",
    )
    p.add_argument("--older-than", type=parse_duration, help="e.g. 90d (default RETENTION_DAYS)")
    p.add_argument("--batch-size", type=positive, help="rows a transaction (PURGE_BATCH_SIZE)")

    return {
        "rotate-callback-credentials": _rotate_callback_credentials,
        "rotate-credentials-key": _rotate_credentials_key,
        "update-provider": _update_provider,
        "list-providers": _list_providers,
        "purge": _purge,
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


async def _rotate_credentials_key(
    args: argparse.Namespace, db: Sessionmaker, settings: AdminSettings
) -> Any:
    return await keys.rotate_credentials_key(db, credentials_key=_key(settings))


async def _update_provider(
    args: argparse.Namespace, db: Sessionmaker, settings: AdminSettings
) -> Any:
    rate: Any = provider_admin.ProviderChanges.rate_limit_per_minute  # "not given"
    if args.no_rate_limit:
        rate = None
    elif args.rate_limit_per_minute is not None:
        rate = args.rate_limit_per_minute
    changes = provider_admin.ProviderChanges(
        write_enabled=args.write_enabled,
        rate_limit_per_minute=rate,
        base_url=args.base_url,
        credentials=provider_admin.changes_credentials(
            from_env=args.credentials_from_env, credentials_file=args.credentials_file
        ),
        options=parse_options(args.option),
        clear_options=tuple(args.clear_option),
    )
    return await provider_admin.update_provider(
        db, provider_id=args.id, changes=changes, credentials_key=_key(settings)
    )


async def _list_providers(
    args: argparse.Namespace, db: Sessionmaker, settings: AdminSettings
) -> Any:
    return await provider_admin.list_providers(db)


async def _purge(args: argparse.Namespace, db: Sessionmaker, settings: AdminSettings) -> Any:
    older_than = args.older_than or timedelta(days=settings.retention_days)
    return await purge.purge(
        db, older_than=older_than, batch_size=args.batch_size or settings.purge_batch_size
    )
