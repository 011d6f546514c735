"""The notifier's Prometheus metrics (served on ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

NOTIFICATIONS = Counter(
    "devicebulk_notifier_events_total",
    "Completion events handled, by outcome (sent, already_sent, no_recipient, refused).",
    ["outcome"],
)
SEND_FAILURES = Counter(
    "devicebulk_notifier_smtp_failures_total",
    "Emails the SMTP server did not take (the event is requeued).",
)
SEND_SECONDS = Histogram(
    "devicebulk_notifier_smtp_send_seconds",
    "Time to hand one email to the SMTP server.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
EMAIL_BYTES = Histogram(
    "devicebulk_notifier_email_bytes",
    "Size of the emails sent, attachment included.",
    buckets=(1e4, 1e5, 1e6, 5e6, 1e7, 2.5e7, 5e7),
)
