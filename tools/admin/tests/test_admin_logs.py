"""The admin CLI's own log lines (the carrier adapter's warnings on stderr) mask secrets."""

from __future__ import annotations

import structlog

from devicebulk_admin import cli
from devicebulk_common.carriers.redaction import register_secret


def test_admin_warnings_mask_registered_secrets_and_secret_keys(capsys) -> None:
    structlog.reset_defaults()
    try:
        cli._quiet_logging()
        register_secret("admin-client-secret-31")
        structlog.get_logger("t").warning(
            "carrier said admin-client-secret-31",
            apiKey="k-9f8e7d6c",
            url="/callbacks/thingspace/4/ps-xyz123",
        )
    finally:
        structlog.reset_defaults()
    err = capsys.readouterr().err
    assert "carrier said ***" in err
    for secret in ("admin-client-secret-31", "k-9f8e7d6c", "ps-xyz123"):
        assert secret not in err
