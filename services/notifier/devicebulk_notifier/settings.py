"""The notifier's settings: the shared names (docs/architecture.md, Configuration) plus its own ``NOTIFIER_*`` names."""

from __future__ import annotations

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from devicebulk_common.settings import CommonSettings, SmtpSettings


class NotifierSettings(CommonSettings, SmtpSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Completion events handled at once (none holds a DB connection while SMTP talks).
    notifier_prefetch: int = 4
    # Used when neither the bulk change's notify_email nor its tenant's notification_email is set.
    notifier_default_recipient: str | None = None
    # /healthz, /readyz and /metrics.
    notifier_health_port: int = 8084
    # One SMTP conversation (connect, send, quit) may take this long before it counts as failed.
    notifier_smtp_timeout_s: float = 60.0
    # How long a failed event waits before it is requeued (SMTP or the database down).
    notifier_requeue_delay_s: float = 5.0
    # On SIGTERM, in-flight emails get this long to finish (inside Kubernetes' 30 s grace).
    notifier_shutdown_timeout_s: float = 25.0
    # The health server binds this address.
    notifier_health_host: str = "0.0.0.0"
    # A send attempt that never recorded its end (the notifier died during it) is resent, with
    # the same Message-ID, once it is this old; it must exceed the SMTP timeout, so that an
    # attempt still under way is never doubled.
    notifier_resend_after_s: float = 120.0
    # The per-device CSV is attached gzip-compressed above this size (bytes, uncompressed) ...
    notifier_csv_compress_above_bytes: int = 1_000_000
    # ... and replaced by a link to the results above this size (bytes, as attached).
    notifier_csv_link_above_bytes: int = 10_000_000
    # The intake's public base URL: the email links to a bulk change's results there.
    notifier_results_base_url: str = "http://127.0.0.1:8080"

    @model_validator(mode="after")
    def _resend_after_exceeds_the_smtp_timeout(self) -> NotifierSettings:
        if self.notifier_resend_after_s <= self.notifier_smtp_timeout_s:
            raise ValueError("NOTIFIER_RESEND_AFTER_S must exceed NOTIFIER_SMTP_TIMEOUT_S")
        return self
