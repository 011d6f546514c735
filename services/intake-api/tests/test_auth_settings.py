"""Production mode is the default and cannot start half-configured: without an issuer, an
audience and a JWKS URL, or with a symmetric or ``none`` algorithm allowed, the intake refuses
to start with a message that says what to set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from devicebulk_intake.settings import IntakeSettings

INTAKE = Path(sys.executable).parent / "devicebulk-intake-api"


def _start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AUTH_")}
    return subprocess.run(
        [str(INTAKE)],
        env=clean | {"INTAKE_PORT": "0"} | env,
        cwd=tmp_path,  # no .env of the work tree
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_intake_refuses_to_start_in_jwt_mode_without_issuer_audience_and_jwks(tmp_path):
    started = _start(tmp_path)  # AUTH_MODE unset: jwt is the default
    assert started.returncode == 1
    assert "cannot start" in started.stderr
    assert "AUTH_ISSUER, AUTH_AUDIENCE, AUTH_JWKS_URL" in started.stderr
    assert "AUTH_MODE=dev" in started.stderr  # says the way out for local work
    assert "Traceback" not in started.stderr

    partly = _start(tmp_path, AUTH_ISSUER="https://login.example.test/")
    assert partly.returncode == 1
    assert "AUTH_AUDIENCE, AUTH_JWKS_URL" in partly.stderr


@pytest.mark.parametrize("algorithms", ["HS256", "RS256,none", "RS256 HS512", ""])
def test_symmetric_or_none_algorithms_cannot_be_allowed(algorithms, tmp_path):
    with pytest.raises(ValidationError, match="AUTH_ALGORITHMS"):
        IntakeSettings(auth_mode="dev", auth_algorithms=algorithms)
    started = _start(tmp_path, AUTH_MODE="dev", AUTH_ALGORITHMS=algorithms)
    assert started.returncode == 1 and "AUTH_ALGORITHMS" in started.stderr


def test_a_complete_jwt_configuration_is_accepted():
    settings = IntakeSettings(
        auth_mode="jwt",
        auth_issuer="https://login.example.test/",
        auth_audience="devicebulk",
        auth_jwks_url="https://login.example.test/.well-known/jwks.json",
        auth_algorithms="RS256, ES256",
    )
    assert settings.algorithms == ("RS256", "ES256")
