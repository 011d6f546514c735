"""A delivery whose channel closed while it was handled: the failed ack is logged, not raised
into a task nobody awaits ("Task exception was never retrieved")."""

from __future__ import annotations

import json
import uuid

from aiormq.exceptions import ChannelInvalidStateError

from devicebulk_common import contracts as c
from devicebulk_common.messaging.consumer import Consumer


class _ClosedChannelDelivery:
    """A delivered message whose channel is gone: settling it raises as aio-pika does."""

    def __init__(self) -> None:
        body = c.DeviceChangeMessage(
            device_change_id=1, bulk_change_id=uuid.uuid4(), correlation_id="x"
        )
        self.body = json.dumps(body.model_dump(mode="json")).encode()
        self.correlation_id = "x"
        self.message_id = "m"

    async def ack(self) -> None:
        raise ChannelInvalidStateError("<Channel: 1> closed")

    async def reject(self, requeue: bool = False) -> None:
        raise ChannelInvalidStateError("<Channel: 1> closed")


async def _handled(body, message) -> None:
    return None


async def _fails(body, message) -> None:
    raise RuntimeError("database away")


async def test_a_failed_ack_or_requeue_is_handled_not_raised():
    ok = Consumer(None, "q", c.DeviceChangeMessage, _handled, prefetch=1)  # type: ignore[arg-type]
    await ok._handle(_ClosedChannelDelivery())  # type: ignore[arg-type]
    assert ok.handled == 0  # not counted: the broker delivers it again
    failing = Consumer(
        None,  # type: ignore[arg-type]
        "q",
        c.DeviceChangeMessage,
        _fails,
        prefetch=1,
        requeue_delay_s=0,
    )
    await failing._handle(_ClosedChannelDelivery())  # type: ignore[arg-type]
