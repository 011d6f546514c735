"""`thingspace-sim`: run the simulator with uvicorn (one process: state lives in memory)."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

import uvicorn

from thingspace_sim import seed
from thingspace_sim.app import create_app
from thingspace_sim.config import FaultConfig, SimConfig


def _fault(text: str) -> tuple[str, str, Any]:
    """`ACCOUNT:key=value` (ACCOUNT `*` = every account); value parsed as JSON if it can be."""
    account, sep, rest = text.partition(":")
    key, eq, raw = rest.partition("=")
    if not sep or not eq or not account or key not in FaultConfig.model_fields:
        raise argparse.ArgumentTypeError(f"expected ACCOUNT:knob=value, got {text!r}")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return account, key, value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="thingspace-sim", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--seed", metavar="FILE", help="JSON {accounts: [...], devices: [...]}")
    p.add_argument("--callback-delay", type=float, default=None, help="seconds (default 0.2)")
    p.add_argument("--callback-retry-interval", type=float, default=None, help="default 300")
    p.add_argument("--token-lifetime", type=float, default=None, help="seconds (default 3600)")
    p.add_argument("--session-idle", type=float, default=None, help="seconds (default 1200)")
    p.add_argument("--page-size", type=int, default=None, help="device list page (2000)")
    p.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="ACCOUNT:KNOB=VALUE",
        help="per-account fault, repeatable; ACCOUNT '*' sets it for every account",
    )
    p.add_argument("--random-seed", type=int, default=None, help="make fault draws repeatable")
    p.add_argument("--log-level", default="info")
    return p.parse_args(argv)


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config keys given on the command line (they win over the seed file's config)."""
    given = {
        "callback_delay": args.callback_delay,
        "callback_retry_interval": args.callback_retry_interval,
        "token_lifetime_s": args.token_lifetime,
        "session_idle_s": args.session_idle,
        "page_size": args.page_size,
    }
    return {key: value for key, value in given.items() if value is not None}


def apply_faults(app: Any, faults: list[tuple[str, str, Any]]) -> None:
    sim = app.state.sim
    for account_name, key, value in faults:
        targets = list(sim.state.accounts.values())
        if account_name == "*":
            merged = {**sim.config.default_faults.model_dump(), key: value}
            sim.config.default_faults = FaultConfig.model_validate(merged)
        else:
            targets = [a for a in targets if a.name == account_name]
            if not targets:
                raise SystemExit(f"--fault: unknown account {account_name!r}")
        for account in targets:
            account.faults = FaultConfig.model_validate({**account.faults.model_dump(), key: value})


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    config = SimConfig(random_seed=args.random_seed)
    seed_data = seed.read_file(args.seed) if args.seed else None
    app = create_app(config, seed_data)
    for key, value in config_overrides(args).items():
        setattr(config, key, value)
    apply_faults(app, args.fault)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level.lower(),
        timeout_graceful_shutdown=5,  # do not wait out calls hung by the timeout fault
    )


if __name__ == "__main__":
    main()
