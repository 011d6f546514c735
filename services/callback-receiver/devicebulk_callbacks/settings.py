from __future__ import annotations

from devicebulk_common.settings import CommonSettings


class CallbackSettings(CommonSettings):
    callbacks_host: str = "127.0.0.1"
    callbacks_port: int = 8081
    # Stored callbacks left unreconciled (a crash between storing and reconciling) are
    # retried by a sweeper this often.
    callbacks_sweep_interval_s: float = 10.0
    callbacks_provider_cache_s: float = 30.0
