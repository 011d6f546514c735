"""The stack of ``devicebulk_devstack`` with every devicebulk process run from the image.

Each ``devicebulk-*`` console script runs in a container of its own made from the image, with
``buildah run --isolation chroot``: the image's own file system, user and environment, on this
machine's network (so it reaches the host's PostgreSQL and RabbitMQ). The simulator and the SMTP
sink stay host processes. Every process carries ``DEVICEBULK_IMAGE_TEST=<run>`` in its
environment, which finds it in ``/proc`` (its user, and to stop it gracefully: a SIGTERM to
``buildah run`` kills its child instead of passing the signal on).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from devicebulk_devstack.processes import Proc, Stack, StackConfig

# The settings a devicebulk process reads (the host's own environment stays out).
SETTING = re.compile(
    r"^(DATABASE_|RABBITMQ_|CREDENTIALS_KEY$|THINGSPACE_|SMTP_|MAIL_FROM$|LOG_|INTAKE_|"
    r"CALLBACKS_|WORKER_|NOTIFIER_|RELAY_|AUTH_)"
)
MARK = "DEVICEBULK_IMAGE_TEST"


def marked_processes(run_id: str) -> list[ContainerProcess]:
    """The processes inside containers whose environment carries ``MARK=run_id`` (not
    buildah's own helpers): found in ``/proc``, since ``buildah run`` does not pass a signal
    on to its child."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            if f"{MARK}={run_id}".encode() not in environ:
                continue
            argv = [a.decode() for a in (entry / "cmdline").read_bytes().split(b"\0") if a]
            status = (entry / "status").read_text()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if not argv or argv[0].startswith("buildah"):
            continue
        uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
        found.append(ContainerProcess(int(entry.name), uid, argv))
    return found


def buildah(*args: str, timeout_s: float = 120) -> str:
    done = subprocess.run(
        ["buildah", *args], capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"buildah {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout.strip()


@dataclass
class ContainerProcess:
    pid: int
    uid: int
    argv: list[str]


class ImageStack(Stack):
    def __init__(self, config: StackConfig, image: str) -> None:
        super().__init__(config)
        self.image = image
        self.run_id = uuid.uuid4().hex[:10]
        self.containers: list[str] = []

    def container(self, name: str) -> str:
        container = buildah("from", "--quiet", "--name", f"dbit-{self.run_id}-{name}", self.image)
        self.containers.append(container)
        return container

    def run_argv(
        self,
        container: str,
        argv: list[str],
        env: dict[str, str],
        volumes: tuple[str, ...] = (),
    ) -> list[str]:
        settings = {k: v for k, v in env.items() if SETTING.match(k)} | {MARK: self.run_id}
        return [
            "buildah",
            "run",
            "--isolation",
            "chroot",
            *(a for k, v in sorted(settings.items()) for a in ("-e", f"{k}={v}")),
            *(a for v in volumes for a in ("-v", v)),
            container,
            "--",
            *argv,
        ]

    def run_once(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        volumes: tuple[str, ...] = (),
    ) -> str:
        """Run a command of the image to its end (migrate, admin); its output."""
        full_env = self.config.env() | (env or {})
        done = subprocess.run(
            self.run_argv(self.container(name), argv, full_env, volumes),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} in the image failed:\n{done.stdout}{done.stderr}"
            )
        return done.stdout

    def _spawn(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> None:
        script = Path(argv[0]).name
        if not script.startswith("devicebulk-"):
            super()._spawn(name, argv, extra_env)  # the simulator and the SMTP sink: host
            return
        env = self.config.env() | (extra_env or {})
        log_path = self.config.var_dir / "logs" / f"{name}.log"
        popen = subprocess.Popen(
            self.run_argv(self.container(name), [script, *argv[1:]], env),
            stdout=log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(Proc(name, popen, log_path))

    def container_processes(self) -> list[ContainerProcess]:
        """This run's processes inside its containers (not buildah's own helpers)."""
        return marked_processes(self.run_id)

    @staticmethod
    def listening(pid: int) -> set[tuple[str, int]]:
        """The (hex address, port) of every socket the process listens on (TCP, v4 and v6)."""
        inodes = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        found = set()
        for table in ("tcp", "tcp6"):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                address, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and inode in inodes:  # 0A: LISTEN
                    host, port = address.split(":")
                    found.add((host, int(port, 16)))
        return found

    def stop(self, timeout_s: float = 30.0) -> None:
        # SIGTERM to the processes themselves: they drain and exit, and buildah run with them.
        for proc in self.container_processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for proc in self.procs:
            if proc.popen.args[0] == "buildah":
                try:
                    proc.popen.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                    proc.popen.wait()
        super().stop(timeout_s)
        for leftover in self.container_processes():
            os.kill(leftover.pid, signal.SIGKILL)
        for container in self.containers:
            subprocess.run(["buildah", "rm", container], capture_output=True, check=False)
        self.containers.clear()
