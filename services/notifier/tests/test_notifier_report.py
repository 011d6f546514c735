"""What the email says about the change, without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from devicebulk_notifier.email import subject
from devicebulk_notifier.report import Report, describe_change


@pytest.mark.parametrize(
    ("change_type", "request_body", "expected"),
    [
        (3, {"StatusUpdate": {"TargetStatus": "Active"}}, "StatusUpdate: Active"),
        (
            7,
            {"CarrierRatePlanUpdate": {"CarrierRatePlan": "M2M-5GB"}},
            "CarrierRatePlanChange: M2M-5GB",
        ),
        (1, {"RevService": {"RevCustomerId": "C-17"}}, "CustomerAssignment: C-17"),
        (5, {}, "Archival"),
        (8, {"Devices": []}, "ChangeICCIDorIMEI"),
        (9, None, "DeviceDeletion"),
        (3, {"StatusUpdate": "garbage"}, "StatusUpdate"),
        (42, {}, "ChangeType 42"),
    ],
)
def test_change_is_described_with_its_portal_name(
    change_type: int, request_body: dict[str, object] | None, expected: str
) -> None:
    assert describe_change(change_type, request_body) == expected


def _report(**overrides: object) -> Report:
    fields: dict[str, object] = {
        "bulk_change_id": uuid.UUID(int=7),
        "change": "StatusUpdate: Suspend",
        "status": "PROCESSED",
        "error_reason": None,
        "service_provider_id": 4,
        "created_by": None,
        "created_at": datetime.now(UTC),
        "processed_at": None,
        "device_count": 10,
        "counts": {"Success": 6, "Failed": 1, "ValidationFailed": 1, "Cancelled": 2},
    }
    fields.update(overrides)
    return Report(**fields)  # type: ignore[arg-type]


def test_subject_counts_cancelled_devices_separately() -> None:
    assert subject(_report()) == (
        f"Bulk change {uuid.UUID(int=7)} (StatusUpdate: Suspend) processed: "
        "6 succeeded, 2 failed, 2 cancelled"
    )


def test_subject_of_a_bulk_change_that_could_not_run() -> None:
    report = _report(status="ERROR", error_reason="writes disabled", counts={"Cancelled": 10})
    assert (
        subject(report) == f"Bulk change {uuid.UUID(int=7)} (StatusUpdate: Suspend) could not run"
    )
