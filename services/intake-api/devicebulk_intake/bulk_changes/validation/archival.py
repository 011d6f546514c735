"""ChangeType 5, Archival (database only), and ChangeType 9, device deletion (at the carrier)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from devicebulk_common import operations as ops
from devicebulk_common.contracts import DeviceStatus
from devicebulk_intake.bulk_changes.validation.common import DeviceSnapshot, Rule, state_words

RECENT_USAGE = timedelta(days=30)


def archival_rule(override_validation: bool, now: datetime | None = None) -> Rule:
    """Refuses a device used in the last 30 days or with an active Rev service, unless the
    operator overrides validation."""
    used_since = (now or datetime.now(UTC)) - RECENT_USAGE
    archive = {"op": ops.ARCHIVE}

    def rule(device: DeviceSnapshot) -> dict[str, Any] | str:
        if not override_validation:
            if device.last_usage_at is not None and device.last_usage_at >= used_since:
                return (
                    f"device was used in the last {RECENT_USAGE.days} days (last usage "
                    f"{device.last_usage_at:%Y-%m-%d}); set OverrideValidation to archive it"
                )
            if device.has_active_rev_service:
                return "device has an active Rev service; set OverrideValidation to archive it"
        return archive

    return rule


def deletion_rule() -> Rule:
    """The carrier deletes only deactivated devices."""
    delete = {"op": ops.DELETE}

    def rule(device: DeviceSnapshot) -> dict[str, Any] | str:
        if device.status != DeviceStatus.DEACTIVATED:
            return (
                f"cannot delete a device that is {state_words(device.status)} "
                "(only a deactivated device can be deleted)"
            )
        return delete

    return rule
