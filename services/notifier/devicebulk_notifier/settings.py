"""The notifier's settings: the shared names (DESIGN.md §6) plus its own ``NOTIFIER_*`` names."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from devicebulk_common.settings import CommonSettings, SmtpSettings


class NotifierSettings(CommonSettings, SmtpSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Completion events handled at once (each holds a DB connection while its email is sent).
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
