from __future__ import annotations

from devicebulk_common.settings import CommonSettings


class CallbackSettings(CommonSettings):
    callbacks_host: str = "127.0.0.1"
    callbacks_port: int = 8081
    # Stored callbacks left unreconciled (a crash between storing and reconciling) are
    # retried by a sweeper this often.
    callbacks_sweep_interval_s: float = 10.0
    callbacks_provider_cache_s: float = 30.0
    # Group commit: callbacks arriving within this long of the first are stored together
    # (one INSERT, one commit), at most this many at once. Short: the carrier holds a delivery
    # lane for the wait (10,000 activations took a median of 13.8 s at 0.004 s, 15.2 s at 0.01).
    callbacks_batch_wait_s: float = 0.004
    callbacks_batch_max: int = 500
    # Stored callbacks are reconciled in the background, in batches: the first waits this long
    # for more to be stored, and one transaction takes at most this many.
    callbacks_reconcile_wait_s: float = 0.05
    callbacks_reconcile_batch_max: int = 1000
    # Probes (/healthz, /readyz) and /metrics: on their own port, never the callback port the
    # internet reaches (bind it to the pod's address for the kubelet and Prometheus only).
    callbacks_internal_host: str = "127.0.0.1"
    callbacks_internal_port: int = 8083
    # Bounds (devicebulk_common.web): a callback is a few hundred bytes, so a body past 64 KiB
    # is not one; the whole body within 10 s of the request's start, the head within 10 s and
    # 16 KiB; at most this many connections at once (503 past it), idle ones closed after 5 s.
    callbacks_max_body_bytes: int = 64 * 1024
    callbacks_body_timeout_s: float = 10.0
    callbacks_header_timeout_s: float = 10.0
    callbacks_max_header_bytes: int = 16 * 1024
    callbacks_max_connections: int = 1000
    callbacks_keep_alive_s: int = 5
