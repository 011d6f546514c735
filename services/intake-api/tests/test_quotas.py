"""Per-tenant limits: submits a minute and devices in flight answer a 429 problem with
Retry-After, and store nothing; another tenant is not held back."""

from __future__ import annotations

import httpx
import pytest
from intake_helpers import SUBMIT, headers, table_counts

from devicebulk_common.contracts import DeviceStatus
from devicebulk_intake.app import create_app
from devicebulk_intake.settings import IntakeSettings


def limited_api(database_url: str, **limits: int):
    app = create_app(IntakeSettings(database_url=database_url, intake_max_devices=1000, **limits))
    return app


async def _client(app):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake")


@pytest.mark.parametrize(
    "limits",
    [
        {"intake_tenant_submits_per_minute": 2},
        {"intake_tenant_max_devices_in_flight": 5},
    ],
    ids=["submits a minute", "devices in flight"],
)
async def test_a_tenant_past_its_limit_gets_429_with_retry_after(
    database_url, credentials_key, sessionmaker, factory, limits
):
    tenant, other = await factory.tenant(), await factory.tenant()
    provider = await factory.provider()
    mine = await factory.devices(tenant, provider, 6, status=DeviceStatus.ACTIVE)
    theirs = await factory.devices(other, provider, 2, status=DeviceStatus.ACTIVE)
    app = limited_api(database_url, **limits)

    def body(devices):
        return {
            "ServiceProviderId": provider.id,
            "ChangeType": 3,
            "Devices": [d.iccid for d in devices],
            "StatusUpdate": {"TargetStatus": "Suspend"},
        }

    async with app.router.lifespan_context(app), await _client(app) as api:
        for pair in (mine[0:2], mine[2:4]):
            answer = await api.post(SUBMIT, json=body(pair), headers=headers(tenant))
            assert answer.status_code == 202, answer.text
        before = await table_counts(sessionmaker)
        refused = await api.post(SUBMIT, json=body(mine[4:6]), headers=headers(tenant))
        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/too-many-requests")
        assert int(refused.headers["Retry-After"]) >= 1
        assert await table_counts(sessionmaker) == before
        elsewhere = await api.post(SUBMIT, json=body(theirs), headers=headers(other))
        assert elsewhere.status_code == 202, elsewhere.text
        spec = (await api.get("/openapi.json")).json()
        documented = spec["paths"][SUBMIT]["post"]["responses"]["429"]
        assert "application/problem+json" in documented["content"]
        assert "Retry-After" in documented["headers"]
