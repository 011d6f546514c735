from __future__ import annotations

from typing import Literal

from devicebulk_common.settings import CommonSettings


class WorkerSettings(CommonSettings):
    # Carrier requests in flight at once from one process.
    worker_concurrency: int = 16
    # Device messages one process holds at once (its AMQP prefetch): at least the batch size,
    # or batches never fill.
    worker_prefetch: int = 2_000
    # Multi-device requests: device changes with the same carrier account, operation and
    # parameters are gathered into one carrier request of at most this many devices (also
    # capped by the operation's own limit: 10,000 for activation, 100 for delete). A batch goes
    # when it is full, when no message arrived for the quiet gap (the stream paused), or at
    # most the wait after its first message, whichever comes first.
    worker_batch_max: int = 1_000
    worker_batch_wait_s: float = 2.0
    worker_batch_quiet_s: float = 0.25
    worker_http_timeout_s: float = 30.0
    worker_health_host: str = "127.0.0.1"
    worker_health_port: int = 8082
    worker_shutdown_grace_s: float = 25.0
    # The lease a batch holds on its device changes while it works them (renewed every third of
    # it): a redelivered copy leaves a live lease alone; an owner that died is resumed after it.
    worker_lease_s: float = 120.0
    # A carrier account that takes few calls at once (Control Center: one) is worked by a few
    # device changes at a time in each process; the rest of a batch waits its turn in the
    # process, at most this long from the batch's start, then is deferred through the delay
    # queue (no attempt spent). Under the broker's consumer timeout (30 min by default) with
    # room for the batch's own work.
    worker_account_wait_max_s: float = 900.0
    # Transient carrier failures (5xx, timeouts, 429, UnexpectedError): attempts in all, and the
    # backoff (base x 4^(attempt-1), capped, with jitter) between them.
    worker_max_attempts: int = 5
    worker_retry_base_s: float = 2.0
    worker_retry_max_s: float = 300.0
    # A provider's rate_limit_per_minute is shared by every process; we aim this share of it
    # (network jitter must not push a sliding minute over), and a message waits at most this
    # long for its slot before it is deferred through a delay queue.
    worker_rate_headroom: float = 0.98
    worker_rate_max_wait_s: float = 20.0
    # Missing callbacks: a device awaiting its callback this long is checked against the
    # carrier's device list (every watchdog interval), and failed past the give-up age.
    worker_callback_timeout_s: float = 900.0
    worker_callback_give_up_s: float = 86_400.0
    worker_watchdog_interval_s: float = 60.0
    # A change in two carrier steps (EditUsername) holds its second step until every device of
    # the first step's request has its callback, so the second steps go out as one request; a
    # device whose callback never comes keeps the others held at most this long (released by
    # the watchdog).
    worker_phase_hold_s: float = 60.0
    # EditUsername: ThingSpace has no username field; the username goes into this custom field.
    worker_username_custom_field: Literal[
        "CustomField1", "CustomField2", "CustomField3", "CustomField4", "CustomField5"
    ] = "CustomField1"
