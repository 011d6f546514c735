"""A carrier's error message reaches the device change, its audit rows and the completion email:
a credential the carrier echoes there is masked, as in the exchange's texts."""

from __future__ import annotations

import base64

import httpx
import pytest

from devicebulk_common.carriers import CredentialsRefusedError, PermanentCarrierError

from .jasper_respx import API_KEY, DEVICE, DEVICE_PATH, USERNAME, cc_error, jasper

BASIC = base64.b64encode(f"{USERNAME}:{API_KEY}".encode()).decode()


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [(401, "10000001", CredentialsRefusedError), (400, "10000005", PermanentCarrierError)],
)
async def test_a_credential_the_carrier_echoes_in_its_error_message_is_masked(status, code, error):
    echoed = f"refused {USERNAME}:{API_KEY} (Authorization: Basic {BASIC}; key {API_KEY})"
    async with jasper() as cc:
        cc.router.put(DEVICE_PATH).mock(
            return_value=httpx.Response(status, json=cc_error(code, echoed))
        )
        with pytest.raises(error) as caught:
            await cc.adapter.set_status(DEVICE, "ACTIVATED")

    texts = [str(caught.value), caught.value.message]
    exchange = caught.value.exchange
    assert exchange is not None
    texts += [exchange.request_body, exchange.response_body]
    assert caught.value.code == code and "refused" in caught.value.message
    for text in texts:
        assert API_KEY not in text and BASIC not in text, text
