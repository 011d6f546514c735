"""The admin CLI's settings: the shared ones and the defaults of its maintenance commands."""

from __future__ import annotations

from pydantic import Field

from devicebulk_common.settings import CommonSettings


class AdminSettings(CommonSettings):
    # rotate-callback-credentials: how long the replaced callback credentials stay accepted
    # (callbacks the carrier queued before the switch still carry them).
    callbacks_rotation_grace_s: float = Field(default=3600.0, ge=0)
    # The callback receivers reload the listeners at most this often (the receiver's own
    # setting, same name): a rotation waits this long before telling the carrier.
    callbacks_provider_cache_s: float = Field(default=30.0, ge=0)
    # purge: what is older than this many days goes (published outbox rows, reconciled
    # callbacks, the carrier texts of audit rows); rows per short transaction.
    retention_days: int = Field(default=90, ge=1)
    purge_batch_size: int = Field(default=1000, ge=1, le=100_000)
