"""Start the stack's processes on this machine, wait until each answers, stop them all."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
# The local token issuer of `devicebulk-admin dev-token` (its defaults: keep them the same).
DEV_ISSUER = "devicebulk-dev"
DEV_AUDIENCE = "devicebulk-intake"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Ports:
    sim: int = 8090
    intake: int = 8080
    callbacks: int = 8081
    worker_health: int = 8082
    notifier_health: int = 8084
    smtp: int = 1025
    callbacks_internal: int = 8083
    jwks: int = 8085
    relay_health: int = 8086
    jasper_sim: int = 8091  # the Control Center simulator (POD19)

    @classmethod
    def free(cls) -> Ports:
        return cls(*(free_port() for _ in fields(cls)))


@dataclass
class StackConfig:
    database_url: str
    rabbitmq_url: str
    credentials_key: str
    var_dir: Path
    ports: Ports = field(default_factory=Ports)
    callback_delay_s: float = 0.2
    log_format: str = "json"
    worker_concurrency: int = 16
    workers: int = 1
    # Any further settings for every process (e.g. WORKER_BATCH_MAX for a test).
    extra_env: dict[str, str] = field(default_factory=dict)
    # The simulator's fault draws: a seed makes a test's faults repeatable.
    sim_random_seed: int | None = None
    # How the intake knows its callers. "jwt": bearer tokens from a local issuer (the key that
    # `devicebulk-admin dev-token` makes under var_dir/dev-jwt, its JWKS served by
    # devicebulk_devstack.jwks_server); "dev": X-Tenant-Id / X-User-Email headers, unverified.
    auth_mode: str = "dev"

    @property
    def sim_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.sim}"

    @property
    def jasper_sim_url(self) -> str:
        """jasper-sim's root; a Control Center provider's base URL adds `/rws/api/v1`."""
        return f"http://127.0.0.1:{self.ports.jasper_sim}"

    @property
    def intake_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.intake}"

    @property
    def callbacks_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.callbacks}"

    @property
    def mail_dir(self) -> Path:
        return self.var_dir / "mail"

    @property
    def jwt_dir(self) -> Path:
        return self.var_dir / "dev-jwt"

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.jwks}/jwks.json"

    def auth_env(self) -> dict[str, str]:
        if self.auth_mode != "jwt":
            return {"AUTH_MODE": "dev"}
        return {
            "AUTH_MODE": "jwt",
            "AUTH_ISSUER": DEV_ISSUER,
            "AUTH_AUDIENCE": DEV_AUDIENCE,
            "AUTH_JWKS_URL": self.jwks_url,
        }

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.database_url,
            RABBITMQ_URL=self.rabbitmq_url,
            CREDENTIALS_KEY=self.credentials_key,
            THINGSPACE_BASE_URL=f"{self.sim_url}/api",
            JASPER_BASE_URL=f"{self.jasper_sim_url}/rws/api/v1",
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(self.ports.smtp),
            SMTP_STARTTLS="false",
            MAIL_FROM="devicebulk@localhost",
            LOG_FORMAT=self.log_format,
            INTAKE_PORT=str(self.ports.intake),
            CALLBACKS_PORT=str(self.ports.callbacks),
            CALLBACKS_INTERNAL_PORT=str(self.ports.callbacks_internal),
            WORKER_HEALTH_PORT=str(self.ports.worker_health),
            WORKER_CONCURRENCY=str(self.worker_concurrency),
            NOTIFIER_HEALTH_PORT=str(self.ports.notifier_health),
            RELAY_HEALTH_PORT=str(self.ports.relay_health),
            RELAY_POLL_INTERVAL_S="1.0",
            CALLBACKS_SWEEP_INTERVAL_S="2.0",
        )
        env.update(self.auth_env())
        env.update(self.extra_env)
        return env


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path


class Stack:
    """The simulators (ThingSpace; Control Center when started), an SMTP sink, the relay and the
    four services, as separate processes."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.procs: list[Proc] = []
        (config.var_dir / "logs").mkdir(parents=True, exist_ok=True)
        config.mail_dir.mkdir(parents=True, exist_ok=True)

    def _spawn(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> None:
        log_path = self.config.var_dir / "logs" / f"{name}.log"
        log = log_path.open("ab")
        env = self.config.env() | (extra_env or {})
        popen = subprocess.Popen(  # noqa: S603 (our own console scripts)
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        self.procs.append(Proc(name, popen, log_path))

    def start_carrier_and_mail(self) -> None:
        ports = self.config.ports
        self._spawn(
            "thingspace-sim",
            [
                str(BIN / "thingspace-sim"),
                "--port",
                str(ports.sim),
                "--callback-delay",
                str(self.config.callback_delay_s),
                "--callback-retry-interval",
                "5",
                "--log-level",
                "warning",
                *(
                    ["--random-seed", str(self.config.sim_random_seed)]
                    if self.config.sim_random_seed is not None
                    else []
                ),
            ],
        )
        self._spawn(
            "smtp-sink",
            [
                sys.executable,
                "-m",
                "devicebulk_devstack.smtp_sink",
                "--port",
                str(ports.smtp),
                "--dir",
                str(self.config.mail_dir),
            ],
        )
        wait_http(f"{self.config.sim_url}/_sim/health", self)
        wait_port(ports.smtp, self)

    def start_jasper_sim(self) -> None:
        """The Cisco Control Center simulator (the POD19 provider's carrier), empty: the demo
        seed (`seed-demo --jasper-sim-url`) gives it its account, user and devices."""
        argv = [str(BIN / "jasper-sim"), "--port", str(self.config.ports.jasper_sim)]
        argv += ["--log-level", "warning"]
        if self.config.sim_random_seed is not None:
            argv += ["--random-seed", str(self.config.sim_random_seed)]
        self._spawn("jasper-sim", argv)
        wait_http(f"{self.config.jasper_sim_url}/_sim/health", self)

    def dev_token(self, tenant: int, *, scope: str | None = None, email: str | None = None) -> str:
        """A bearer token for the intake (``jwt`` mode), from `devicebulk-admin dev-token`."""
        argv = [str(BIN / "devicebulk-admin"), "dev-token", "--tenant", str(tenant)]
        argv += ["--key-dir", str(self.config.jwt_dir)]
        argv += [*(["--scope", scope] if scope else []), *(["--email", email] if email else [])]
        made = subprocess.run(  # noqa: S603 (our own console script)
            argv, env=self.config.env(), capture_output=True, text=True, timeout=60
        )
        if made.returncode != 0:
            raise RuntimeError(f"dev-token failed: {made.stderr}")
        return made.stdout.strip()

    def start_token_issuer(self) -> None:
        """The local issuer's key (made once) and its JWKS, served on a port of its own."""
        self.dev_token(1)  # makes the key and jwks.json on first use
        self._spawn(
            "jwks-server",
            [
                sys.executable,
                "-m",
                "devicebulk_devstack.jwks_server",
                "--port",
                str(self.config.ports.jwks),
                "--file",
                str(self.config.jwt_dir / "jwks.json"),
            ],
        )
        wait_http(self.config.jwks_url, self)

    def start_services(self) -> None:
        ports = self.config.ports
        if self.config.auth_mode == "jwt":
            self.start_token_issuer()
        self._spawn("relay", [str(BIN / "devicebulk-relay")])
        self._spawn("intake-api", [str(BIN / "devicebulk-intake-api")])
        self._spawn("callback-receiver", [str(BIN / "devicebulk-callback-receiver")])
        for i in range(self.config.workers):
            self._spawn(
                f"bulk-worker-{i}",
                [str(BIN / "devicebulk-bulk-worker")],
                {"WORKER_HEALTH_PORT": str(ports.worker_health + 100 * i)},
            )
        self._spawn("notifier", [str(BIN / "devicebulk-notifier")])
        wait_http(f"{self.config.intake_url}/readyz", self)
        wait_http(f"http://127.0.0.1:{ports.callbacks_internal}/readyz", self)
        for i in range(self.config.workers):
            wait_http(f"http://127.0.0.1:{ports.worker_health + 100 * i}/readyz", self)
        wait_http(f"http://127.0.0.1:{ports.notifier_health}/readyz", self)
        wait_http(f"http://127.0.0.1:{ports.relay_health}/readyz", self)

    def check_alive(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is not None:
                tail = proc.log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{tail}")

    def stop(self, timeout_s: float = 30.0) -> None:
        for proc in reversed(self.procs):
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for proc in self.procs:
            remaining = max(0.1, deadline - time.monotonic())
            try:
                proc.popen.wait(remaining)
            except subprocess.TimeoutExpired:
                os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait()
        self.procs.clear()


def wait_http(url: str, stack: Stack, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


def wait_port(port: int, stack: Stack, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout_s} s")


def which(name: str) -> str:
    return shutil.which(name) or str(BIN / name)
