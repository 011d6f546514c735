"""`devicebulk-admin`: set up tenants, carrier accounts and devices; sync them with the carrier.

Settings come from the environment (DATABASE_URL, CREDENTIALS_KEY, THINGSPACE_BASE_URL), as
for the services; ``--database-url`` overrides. Exit code 0 on success, 1 with a one-line
error on stderr for anything the operator can fix.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, is_dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pydantic
import structlog
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from devicebulk_admin import (
    callbacks,
    catalogue_cli,
    demo,
    dev_token,
    devices,
    inventory,
    jasper_provider,
    maintenance_cli,
    providers,
    tenants,
)
from devicebulk_admin.errors import AdminError
from devicebulk_admin.provider_options import parse_options
from devicebulk_admin.runtime import Sessionmaker, open_database
from devicebulk_admin.settings import AdminSettings
from devicebulk_common.carriers import CarrierError
from devicebulk_common.crypto import CredentialsKeyError, new_key
from devicebulk_common.logging import redact_secrets
from devicebulk_common.settings import CommonSettings

PROG = "devicebulk-admin"
Command = Callable[[argparse.Namespace, Sessionmaker, AdminSettings], Awaitable[Any]]


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be a positive integer")
    return number


def _non_negative(value: str) -> int:
    return 0 if value.strip() == "0" else _positive(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks of failures")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database-url", help="overrides DATABASE_URL")
    common.add_argument("--json", action="store_true", help="print the result as JSON")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("new-credentials-key", help="print a new Fernet key for CREDENTIALS_KEY")

    p = sub.add_parser("create-tenant", parents=[common], help="add a tenant")
    p.add_argument("--id", type=_positive, required=True, help="the portal's tenant id")
    p.add_argument("--name", required=True)
    p.add_argument("--notification-email")
    p.add_argument("--if-not-exists", action="store_true", help="an existing id is a no-op")

    p = sub.add_parser(
        "create-provider",
        parents=[common],
        help="add a carrier account",
        description="Credentials come from --credentials-file, else THINGSPACE_CLIENT_KEY, "
        "THINGSPACE_CLIENT_SECRET, THINGSPACE_USERNAME and THINGSPACE_PASSWORD, else a prompt "
        "on a terminal; they are stored encrypted with CREDENTIALS_KEY. --integration jasper: "
        "JASPER_USERNAME and JASPER_API_KEY, --base-url or JASPER_BASE_URL (.../rws/api/v1). "
        "--option key=value: the integration's options (docs/jasper.md), checked first.",
    )
    p.add_argument("--id", type=_positive, required=True, help="the portal's ServiceProviderId")
    p.add_argument("--name", required=True)
    p.add_argument("--account-name", required=True, help="the carrier billing account")
    p.add_argument("--base-url", help="carrier API base URL (default THINGSPACE_BASE_URL)")
    p.add_argument(
        "--integration",
        default="thingspace",
        choices=providers.INTEGRATIONS,
    )
    writes = p.add_mutually_exclusive_group()
    writes.add_argument(
        "--writes-enabled",
        dest="write_enabled",
        action="store_true",
        default=True,
        help="allow write operations at the carrier (the default)",
    )
    writes.add_argument("--writes-disabled", dest="write_enabled", action="store_false")
    p.add_argument("--rate-limit-per-minute", type=_positive)
    p.add_argument("--credentials-file", type=Path, help="JSON with the four credentials")
    p.add_argument("--if-not-exists", action="store_true", help="an existing id is a no-op")
    maintenance_cli.add_option_arguments(p)

    p = sub.add_parser(
        "import-devices",
        parents=[common],
        help="upsert devices from a CSV",
        description="CSV with a header row; columns iccid (required), imei, msisdn, status "
        "(default preactive), carrier_rate_plan, username, cost_center. Empty cells keep the "
        "stored value.",
    )
    p.add_argument("--tenant", type=_positive, required=True)
    p.add_argument("--provider", type=_positive, required=True)
    p.add_argument("--strict", action="store_true", help="import nothing if any row is bad")
    p.add_argument("file", type=Path, metavar="FILE.csv")

    p = sub.add_parser(
        "sync-inventory", parents=[common], help="update our devices from the carrier's list"
    )
    p.add_argument("--provider", type=_positive, required=True)
    p.add_argument("--tenant", type=_positive, help="create devices only the carrier has here")

    p = sub.add_parser(
        "register-callback",
        parents=[common],
        help="new callback credentials, registered with the carrier",
    )
    p.add_argument("--provider", type=_positive, required=True)
    p.add_argument("--url-base", required=True, help="where the callback-receiver is reachable")

    p = sub.add_parser("seed-demo", parents=[common], help="demo data for `make run`")
    p.add_argument("--tenant", type=_positive, default=1)
    p.add_argument("--provider", type=_positive, default=4)
    p.add_argument("--devices", type=_non_negative, default=1000)
    p.add_argument("--sim-url", help="the simulator (default: THINGSPACE_BASE_URL without /api)")
    p.add_argument("--skip-sim", action="store_true", help="do not seed the simulator")
    p.add_argument("--write-iccids", type=Path, metavar="FILE", help="write the ICCIDs here")
    p.add_argument(
        "--examples",
        action="store_true",
        help="also the catalogue and the device the OpenAPI examples name",
    )
    p.add_argument(
        "--jasper-sim-url",
        help="also seed POD19 (id 19, Cisco Control Center) at this jasper-sim, e.g. "
        "http://127.0.0.1:8091",
    )
    p.add_argument(
        "--write-jasper-iccids", type=Path, metavar="FILE", help="write POD19's ICCIDs here"
    )

    COMMANDS.update(catalogue_cli.add_parsers(sub, common, _positive))
    COMMANDS.update(maintenance_cli.add_parsers(sub, common, _positive))
    dev_token.add_parser(sub, _positive)
    return parser


# -- the commands ----------------------------------------------------------------------------


def _key(settings: CommonSettings) -> str:
    return settings.credentials_key.get_secret_value()


async def _create_tenant(args: argparse.Namespace, db: Sessionmaker, _: CommonSettings) -> Any:
    return await tenants.create_tenant(
        db,
        tenant_id=args.id,
        name=args.name,
        notification_email=args.notification_email,
        if_not_exists=args.if_not_exists,
    )


async def _create_provider(
    args: argparse.Namespace, db: Sessionmaker, settings: CommonSettings
) -> Any:
    if args.integration == jasper_provider.INTEGRATION:
        return await jasper_provider.create_from_args(args, db, _key(settings))
    spec = providers.ProviderSpec(
        id=args.id,
        name=args.name,
        account_name=args.account_name,
        base_url=args.base_url or settings.thingspace_base_url,
        integration=args.integration,
        write_enabled=args.write_enabled,
        rate_limit_per_minute=args.rate_limit_per_minute,
        carrier_options=parse_options(args.option),
    )
    return await providers.create_provider(
        db,
        spec,
        credentials=partial(providers.read_credentials, args.credentials_file),
        credentials_key=_key(settings),
        if_not_exists=args.if_not_exists,
    )


async def _import_devices(args: argparse.Namespace, db: Sessionmaker, _: CommonSettings) -> Any:
    return await devices.import_devices(
        db, args.file, tenant_id=args.tenant, provider_id=args.provider, strict=args.strict
    )


async def _sync_inventory(
    args: argparse.Namespace, db: Sessionmaker, settings: CommonSettings
) -> Any:
    jasper = await jasper_provider.sync_if_jasper(db, args.provider, args.tenant, _key(settings))
    if jasper is not None:
        return jasper
    return await inventory.sync_inventory(
        db, provider_id=args.provider, tenant_id=args.tenant, credentials_key=_key(settings)
    )


async def _register_callback(
    args: argparse.Namespace, db: Sessionmaker, settings: CommonSettings
) -> Any:
    return await callbacks.register_callback(
        db, provider_id=args.provider, url_base=args.url_base, credentials_key=_key(settings)
    )


async def _seed_demo(args: argparse.Namespace, db: Sessionmaker, settings: CommonSettings) -> Any:
    sim_url = args.sim_url or settings.thingspace_base_url.rstrip("/").removesuffix("/api")
    return await demo.seed_demo(
        db,
        tenant_id=args.tenant,
        provider_id=args.provider,
        devices=args.devices,
        credentials_key=_key(settings),
        sim_url=sim_url,
        seed_sim=not args.skip_sim,
        iccids_file=args.write_iccids,
        examples=args.examples,
        jasper_sim_url=args.jasper_sim_url,
        jasper_iccids_file=args.write_jasper_iccids,
    )


COMMANDS: dict[str, Command] = {
    "create-tenant": _create_tenant,
    "create-provider": _create_provider,
    "import-devices": _import_devices,
    "sync-inventory": _sync_inventory,
    "register-callback": _register_callback,
    "seed-demo": _seed_demo,
}


# -- running one -----------------------------------------------------------------------------


def _print_result(result: Any, as_json: bool) -> None:
    if as_json:
        data = result.as_dict() if hasattr(result, "as_dict") else asdict(result)
        print(json.dumps(data, indent=2, default=str))
    elif is_dataclass(result) or hasattr(result, "summary"):
        print(result.summary())


async def _run(args: argparse.Namespace, settings: AdminSettings) -> Any:
    async with open_database(args.database_url or settings.database_url) as db:
        return await COMMANDS[args.command](args, db, settings)


def _describe(exc: BaseException) -> str | None:
    """The one-line message for a failure the operator can act on, or None for a bug."""
    if isinstance(exc, AdminError | CredentialsKeyError):
        return str(exc)
    if isinstance(exc, CarrierError):
        return f"the carrier call failed: {exc}"
    if isinstance(exc, httpx.HTTPError):
        return f"HTTP request failed: {exc!r}"
    if isinstance(exc, DBAPIError):
        return f"database error: {str(exc.orig).strip() or type(exc.orig).__name__}"
    if isinstance(exc, SQLAlchemyError | OSError):
        return f"cannot use the database: {exc}"
    if isinstance(exc, pydantic.ValidationError):
        return f"bad settings in the environment: {exc}"
    return None


class _Stderr:
    """Whatever `sys.stderr` is when a line is written (tests swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _quiet_logging() -> None:
    """Library logs (the carrier adapter's) go to stderr, warnings only, never into --json."""
    if not structlog.is_configured():
        defaults = list(structlog.get_config()["processors"])
        structlog.configure(
            processors=[*defaults[:-1], redact_secrets, defaults[-1]],
            logger_factory=structlog.PrintLoggerFactory(_Stderr()),  # type: ignore[arg-type]
            wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "new-credentials-key":
        print(new_key())
        return 0
    if args.command == dev_token.COMMAND:
        try:
            print(dev_token.run(args))
        except (AdminError, OSError) as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return 1
        return 0
    _quiet_logging()
    try:
        settings = AdminSettings()
        result = asyncio.run(_run(args, settings))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except devices.StrictImportError as exc:
        _print_result(exc.result, args.json)
        print(f"{PROG}: error: rows were rejected, nothing imported (--strict)", file=sys.stderr)
        return 1
    except Exception as exc:
        message = _describe(exc)
        if message is None or args.debug:
            if args.debug:
                raise
            message = f"unexpected {type(exc).__name__}: {exc} (run with --debug for details)"
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    _print_result(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
