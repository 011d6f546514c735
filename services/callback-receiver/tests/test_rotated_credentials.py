"""A provider whose callback credentials were rotated: the previous ones are accepted until
their grace period ends, in any mix with the current ones, then refused as expired (401)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callback_helpers import activation_callback, record_request
from prometheus_client import REGISTRY
from sqlalchemy import update

from devicebulk_common.crypto import digest, encrypt_json
from devicebulk_common.models import ServiceProvider


async def _rotated(sessionmaker, credentials_key, provider_id: int, valid_until: datetime) -> None:
    """Current: ts-callback/s3cret at path-secret (the scenario's) becomes previous; the new
    ones are new-user/new-pass at new-secret."""
    async with sessionmaker() as s, s.begin():
        await s.execute(
            update(ServiceProvider)
            .where(ServiceProvider.id == provider_id)
            .values(
                callback_username="new-user",
                callback_password_encrypted=encrypt_json(credentials_key, {"password": "new-pass"}),
                callback_path_secret_sha256=digest("new-secret"),
                callback_previous_username="ts-callback",
                callback_previous_password_encrypted=encrypt_json(
                    credentials_key, {"password": "s3cret"}
                ),
                callback_previous_path_secret_sha256=digest("path-secret"),
                callback_previous_valid_until=valid_until,
            )
        )


def _failed(provider_id: int, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "callbacks_auth_failed_total", {"provider": str(provider_id), "reason": reason}
    )
    return value or 0.0


async def test_previous_credentials_work_during_the_grace(
    receiver, scenario, sessionmaker, credentials_key
) -> None:
    pid = scenario.provider.id
    await _rotated(sessionmaker, credentials_key, pid, datetime.now(UTC) + timedelta(hours=1))
    new_url = f"/callbacks/thingspace/{pid}/new-secret"
    new = {"username": "new-user", "password": "new-pass"}
    for n, (url, creds) in enumerate(
        [(scenario.url, {}), (new_url, new), (new_url, {}), (scenario.url, new)]
    ):
        dc = scenario.changes[n % len(scenario.changes)]
        await record_request(sessionmaker, dc, f"req-grace-{n}")
        answer = await receiver.post(
            url, json=activation_callback(dc.iccid, f"req-grace-{n}", **creds)
        )
        assert answer.status_code == 200, (n, answer.text)


async def test_previous_credentials_are_refused_as_expired_after_the_grace(
    receiver, scenario, sessionmaker, credentials_key
) -> None:
    pid = scenario.provider.id
    await _rotated(sessionmaker, credentials_key, pid, datetime.now(UTC) - timedelta(seconds=1))
    new_url = f"/callbacks/thingspace/{pid}/new-secret"
    dc = scenario.changes[0]
    expired, wrong, path = (_failed(pid, r) for r in ("expired", "credentials", "path_secret"))

    old_path = await receiver.post(scenario.url, json=activation_callback(dc.iccid, "r1"))
    old_body = await receiver.post(new_url, json=activation_callback(dc.iccid, "r2"))
    guessed = await receiver.post(
        new_url, json=activation_callback(dc.iccid, "r3", username="new-user", password="no")
    )
    unknown = await receiver.post(
        f"/callbacks/thingspace/{pid}/guess", json=activation_callback(dc.iccid, "r4")
    )
    assert (old_path.status_code, old_body.status_code, guessed.status_code) == (401, 401, 401)
    assert "rotation" in old_path.json()["detail"] and "rotation" in old_body.json()["detail"]
    assert unknown.status_code == 404
    assert _failed(pid, "expired") - expired == 2
    assert _failed(pid, "credentials") - wrong == 1
    assert _failed(pid, "path_secret") - path == 1
