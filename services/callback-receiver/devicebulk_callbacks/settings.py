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
