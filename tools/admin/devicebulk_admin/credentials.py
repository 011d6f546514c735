"""Where a carrier account's API credentials come from: never the command line (they would show
in `ps` and shell history), but a JSON file, the environment, or a prompt on a terminal.

One `CredentialSource` a carrier names its fields, their environment variables and how to ask
for them; `create-provider` and `update-provider` read through it whatever the carrier.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from devicebulk_admin.errors import AdminError


@dataclass(frozen=True)
class CredentialSource:
    carrier: str  # as the messages and prompts name it
    env: Mapping[str, str]  # field -> environment variable
    prompts: Mapping[str, str]  # field -> what the prompt asks

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.env)

    def from_file(self, path: Path) -> dict[str, str]:
        try:
            raw = json.loads(path.read_text())
        except OSError as exc:
            raise AdminError(f"cannot read credentials file {path}: {exc.strerror}") from exc
        except ValueError as exc:
            raise AdminError(f"credentials file {path} is not valid JSON") from exc
        if not isinstance(raw, dict):
            raise AdminError(f"credentials file {path} must hold a JSON object")
        return self._complete(raw, f"credentials file {path}", lambda f: f)

    def from_env(self, env: Mapping[str, str]) -> dict[str, str] | None:
        """The variables, or None when none is set (some but not all: an error)."""
        if not any(env.get(name) for name in self.env.values()):
            return None
        values = {field: env.get(name, "") for field, name in self.env.items()}
        return self._complete(values, "the environment", lambda f: self.env[f])

    def from_prompt(self, prompt: Callable[[str], str]) -> dict[str, str]:
        values = {field: prompt(f"{self.carrier} {self.prompts[field]}: ") for field in self.env}
        return self._complete(values, "the prompt", lambda f: f)

    def read(
        self,
        credentials_file: Path | None,
        *,
        env: Mapping[str, str] | None = None,
        interactive: bool | None = None,
        prompt: Callable[[str], str] = getpass.getpass,
    ) -> dict[str, str]:
        """From ``--credentials-file``, else the environment, else a prompt on a terminal."""
        if credentials_file is not None:
            return self.from_file(credentials_file)
        from_env = self.from_env(os.environ if env is None else env)
        if from_env is not None:
            return from_env
        if interactive is None:
            interactive = sys.stdin.isatty()
        if interactive:
            return self.from_prompt(prompt)
        raise AdminError(
            f"no {self.carrier} credentials: set "
            + ", ".join(self.env.values())
            + f", or pass --credentials-file FILE (JSON with {', '.join(self.fields)}), or run "
            "on a terminal to be prompted"
        )

    def _complete(
        self, raw: Mapping[str, object], source: str, name: Callable[[str], str]
    ) -> dict[str, str]:
        missing = [
            name(field)
            for field in self.fields
            if not isinstance(raw.get(field), str) or not str(raw.get(field)).strip()
        ]
        if missing:
            raise AdminError(f"{self.carrier} credentials from {source} lack {', '.join(missing)}")
        return {field: str(raw[field]).strip() for field in self.fields}


THINGSPACE = CredentialSource(
    "ThingSpace",
    env={
        field: f"THINGSPACE_{field.upper()}"
        for field in ("client_key", "client_secret", "username", "password")
    },
    prompts={
        "client_key": "client key",
        "client_secret": "client secret",
        "username": "username",
        "password": "password",
    },
)
CONTROL_CENTER = CredentialSource(
    "Control Center",
    env={"username": "JASPER_USERNAME", "api_key": "JASPER_API_KEY"},
    prompts={"username": "user name", "api_key": "API key"},
)
