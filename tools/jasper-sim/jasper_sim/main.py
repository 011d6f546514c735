"""`jasper-sim`: run the simulator with uvicorn (one process: state lives in memory)."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

import uvicorn

from jasper_sim import seed
from jasper_sim.app import create_app
from jasper_sim.config import FaultConfig, SimConfig


def _fault(text: str) -> tuple[str, str, Any]:
    """`ACCOUNT:knob=value` (ACCOUNT `*` = every account); value parsed as JSON if it can be."""
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
    p = argparse.ArgumentParser(prog="jasper-sim", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8091)
    p.add_argument("--seed", metavar="FILE", help="JSON {accounts: [...], devices: [...]}")
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


def apply_faults(app: Any, faults: list[tuple[str, str, Any]]) -> None:
    sim = app.state.sim
    for account_id, key, value in faults:
        targets = list(sim.state.accounts.values())
        if account_id == "*":
            merged = {**sim.config.default_faults.model_dump(), key: value}
            sim.config.default_faults = FaultConfig.model_validate(merged)
        else:
            targets = [a for a in targets if a.account_id == account_id]
            if not targets:
                raise SystemExit(f"--fault: unknown account {account_id!r}")
        for account in targets:
            account.faults = FaultConfig.model_validate({**account.faults.model_dump(), key: value})


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    seed_data = seed.read_file(args.seed) if args.seed else None
    app = create_app(SimConfig(random_seed=args.random_seed), seed_data)
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
