"""Callback bodies and the worker's side of reconciliation, for the receiver's tests."""

from __future__ import annotations

from sqlalchemy import update

from devicebulk_common.callbacks import lock_request, reconcile_request
from devicebulk_common.models import DeviceChange


def activation_callback(iccid: str, request_id: str, *, mdn: str = "8585550100", **kw) -> dict:
    return {
        "username": "ts-callback",
        "password": "s3cret",
        "requestId": request_id,
        "deviceIds": [{"id": iccid, "kind": "Iccid"}],
        "deviceResponse": {
            "activateResponse": {
                "deviceIds": [{"kind": "mdn", "id": mdn}, {"kind": "msisdn", "id": "1" + mdn}]
            }
        },
        "status": "Success",
        "callbackCount": 1,
        "maxCallbackThreshold": 4,
        **kw,
    }


async def record_request(sessionmaker, change: DeviceChange, request_id: str) -> None:
    """What the worker does when the carrier accepts a request (see bulk-worker's handler)."""
    async with sessionmaker() as s, s.begin():
        await lock_request(s, request_id)
        await s.execute(
            update(DeviceChange)
            .where(DeviceChange.id == change.id)
            .values(status="AwaitingCallback", carrier_request_id=request_id)
        )
        await reconcile_request(s, request_id)
