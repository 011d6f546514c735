"""The ThingSpace Connectivity Management adapter (Verizon M2M API)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import structlog

from .base import (
    AsyncRequestAccepted,
    CallbackRegistration,
    CarrierDevice,
    CarrierExchange,
    DeviceRef,
    PlaceOfUse,
    SyncActionResult,
)
from .capabilities import CarrierCapabilities
from .errors import AuthExpiredError, CarrierError, TokenKind
from .redaction import callback_path_secrets, register_secret
from .thingspace_auth import REFUSAL_HOLD_S, ThingSpaceAuth
from .thingspace_capabilities import CAPABILITIES
from .thingspace_errors import error_from_response
from .thingspace_wire import (
    ADD_STATE,
    CALLBACK_SERVICE,
    CHANGE_OPTIONS,
    CUSTOM_FIELD_KEYS,
    DEFAULT_REASON_CODE,
    DEFAULT_USERNAME_FIELD,
    MAX_DELETE_DEVICES,
    check_cost_center,
    custom_fields_body,
    device_ids,
    devices_body,
    next_cursor,
    parse_device,
    parse_sync_results,
    place_of_use_body,
)
from .tokens import TokenCache
from .transport import CarrierTransport, Serializer, compact_json, malformed

log = structlog.get_logger(__name__)

M2M = "/m2m/v1"
# UNCONFIRMED: our API notes name no call that updates an active device's primary place of use.
# Verizon's SDK documents "Update Devices Contact Information", PUT /devices/actions/contactInfo
# with `devices`, `accountName` and `primaryPlaceOfUse`, answered with a requestId and a
# CarrierService callback; that is what we send (the path is configurable).
PLACE_OF_USE_PATH = "/devices/actions/contactInfo"


def token_key_prefix(base_url: str, account_name: str) -> str:
    """What every token-cache key of one account starts with (its OAuth token, its session and
    their refusal marks), so an operator can drop them all when the credentials change."""
    return f"thingspace:{base_url.rstrip('/')}:{account_name}"


class ThingSpaceAdapter:
    """`CarrierAdapter` for one ThingSpace billing account.

    The httpx client is the caller's (its timeouts apply; it is not closed here). Tokens
    live in `token_cache` under keys per base URL and account, so several adapters or
    processes sharing a cache share one access token and one session. An expired session
    costs one new login and one retry; an expired access token one new token, one new
    session and one retry; a second failure of the same kind raises AuthExpiredError. Any
    session-token error (`SessionToken.*`, e.g. the carrier forgot the session) counts as
    expired; the dropped token is deleted from the shared cache, so every process logs in
    with the one new session rather than each its own.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        account_name: str,
        client_key: str,
        client_secret: str,
        username: str,
        password: str,
        token_cache: TokenCache,
        token_margin_s: float = 60.0,
        session_idle_s: float = 15 * 60.0,
        refusal_hold_s: float = REFUSAL_HOLD_S,
        change_identifier_service_type: str = "4G",
        place_of_use_path: str = PLACE_OF_USE_PATH,
        logout_on_close: bool = False,
        serialize: Serializer | None = None,
        clock: Callable[[], float] = time.time,
        pacer: Callable[[], Awaitable[None]] | None = None,
        username_field: str = DEFAULT_USERNAME_FIELD,
    ) -> None:
        if username_field not in CUSTOM_FIELD_KEYS:
            raise ValueError(f"{username_field!r} is not one of {sorted(CUSTOM_FIELD_KEYS)}")
        self._username_field = username_field
        self._pacer = pacer
        self._account_name = account_name
        self._service_type = change_identifier_service_type
        self._place_of_use_path = place_of_use_path
        self._logout_on_close = logout_on_close
        self._transport = CarrierTransport(
            http, base_url, serialize=serialize or compact_json, errors=error_from_response
        )
        self._auth = ThingSpaceAuth(
            self._transport,
            key_prefix=token_key_prefix(base_url, account_name),
            client_key=client_key,
            client_secret=client_secret,
            username=username,
            password=password,
            cache=token_cache,
            margin_s=token_margin_s,
            session_idle_s=session_idle_s,
            refusal_hold_s=refusal_hold_s,
            clock=clock,
            pacer=pacer,
        )

    @property
    def capabilities(self) -> CarrierCapabilities:
        return CAPABILITIES

    @property
    def account_name(self) -> str:
        return self._account_name

    @property
    def _account_path(self) -> str:
        return quote(self._account_name, safe="")

    # -- the authenticated call -----------------------------------------------------

    async def _call(
        self, operation: str, method: str, path: str, body: Any = None
    ) -> tuple[Any, CarrierExchange]:
        retried: set[TokenKind] = set()
        while True:
            access: str | None = None
            session: str | None = None
            try:
                access = await self._auth.access_token()
                session = await self._auth.session_token(access)
                register_secret(access, session, rotating=True)
                if self._pacer is not None:
                    await self._pacer()  # the account's shared budget: one slot per call
                response, exchange = await self._transport.request(
                    operation,
                    method,
                    M2M + path,
                    headers={"Authorization": f"Bearer {access}", "VZ-M2M-Token": session},
                    json_body=body,
                )
            except AuthExpiredError as exc:
                if exc.token in retried:
                    raise
                retried.add(exc.token)
                log.info("carrier.token_expired", token=exc.token, operation=operation)
                if exc.token == "access" and access is not None:
                    await self._auth.invalidate_access(access)
                if session is not None:
                    await self._auth.invalidate_session(session)
                continue
            await self._auth.session_used(session)
            return self._transport.decode(response, exchange), exchange

    async def _async_action(
        self, operation: str, method: str, path: str, body: dict[str, Any]
    ) -> AsyncRequestAccepted:
        payload, exchange = await self._call(operation, method, path, body)
        request_id = payload.get("requestId") if isinstance(payload, dict) else None
        if not isinstance(request_id, str) or not request_id:
            raise malformed("answer without requestId", exchange)
        return AsyncRequestAccepted(request_id=request_id, exchange=exchange)

    def _with_account(self, body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "accountName": self._account_name}

    # -- asynchronous actions -------------------------------------------------------

    async def activate(
        self,
        devices: Sequence[DeviceRef],
        *,
        service_plan: str,
        zip_code: str,
        place_of_use: PlaceOfUse | None = None,
        sku_number: str | None = None,
        cost_center: str | None = None,
        custom_fields: Mapping[str, str] | None = None,
        group_name: str | None = None,
    ) -> AsyncRequestAccepted:
        body: dict[str, Any] = self._with_account(
            {"devices": devices_body(devices), "servicePlan": service_plan, "mdnZipCode": zip_code}
        )
        if place_of_use is not None:
            body["primaryPlaceOfUse"] = place_of_use_body(place_of_use)
        if custom_fields:
            body["customFields"] = custom_fields_body(custom_fields)
        if group_name is not None:
            body["groupName"] = group_name
        if sku_number is not None:
            body["skuNumber"] = sku_number
        if cost_center is not None:
            body["costCenterCode"] = check_cost_center(cost_center)
        return await self._async_action("activate", "POST", "/devices/actions/activate", body)

    async def suspend(
        self, devices: Sequence[DeviceRef], *, with_billing: bool | None = None
    ) -> AsyncRequestAccepted:
        """``with_billing``: the portal's WithBilling, sent when given (else the carrier's
        default)."""
        body: dict[str, Any] = {"devices": devices_body(devices)}
        if with_billing is not None:
            body["withBilling"] = with_billing
        body = self._with_account(body)
        return await self._async_action("suspend", "POST", "/devices/actions/suspend", body)

    async def change_status(
        self, devices: Sequence[DeviceRef], status: str
    ) -> AsyncRequestAccepted:
        raise ValueError(
            "ThingSpace has no call to a status by name: activate, suspend, restore, deactivate"
        )

    async def restore(self, devices: Sequence[DeviceRef]) -> AsyncRequestAccepted:
        body = self._with_account({"devices": devices_body(devices)})
        return await self._async_action("restore", "POST", "/devices/actions/restore", body)

    async def deactivate(
        self,
        devices: Sequence[DeviceRef],
        *,
        reason_code: str | None = None,
        etf_waiver: bool = False,
        delete_after: bool = False,
    ) -> AsyncRequestAccepted:
        body = self._with_account(
            {
                "devices": devices_body(devices),
                "reasonCode": reason_code or DEFAULT_REASON_CODE,
                "etfWaiver": etf_waiver,
                "deleteAfterDeactivation": delete_after,
            }
        )
        return await self._async_action("deactivate", "POST", "/devices/actions/deactivate", body)

    async def change_service_plan(
        self,
        devices: Sequence[DeviceRef],
        *,
        service_plan: str,
        current_service_plan: str | None = None,
    ) -> AsyncRequestAccepted:
        body = self._with_account({"devices": devices_body(devices), "servicePlan": service_plan})
        if current_service_plan is not None:
            body["currentServicePlan"] = current_service_plan
        return await self._async_action("change_service_plan", "PUT", "/devices/actions/plan", body)

    async def change_identifier(
        self,
        device_from: DeviceRef,
        device_to: DeviceRef,
        *,
        identifier: str,
        service_plan: str | None = None,
        zip_code: str | None = None,
    ) -> AsyncRequestAccepted:
        option = CHANGE_OPTIONS.get(identifier.upper())
        if option is None:
            raise ValueError(
                f"identifier must be one of {sorted(CHANGE_OPTIONS)}, not {identifier!r}"
            )
        body: dict[str, Any] = {
            "deviceIds": device_ids(device_from),
            "deviceIdsTo": device_ids(device_to),
            "change4gOption": option,
        }
        if service_plan is not None:
            body["servicePlan"] = service_plan
        if zip_code is not None:
            body["zipCode"] = zip_code
        path = f"/devices/{quote(self._service_type, safe='')}/actions/deviceId"
        return await self._async_action("change_identifier", "PUT", path, body)

    async def update_custom_fields(
        self, devices: Sequence[DeviceRef], fields: Mapping[str, str]
    ) -> AsyncRequestAccepted:
        body = self._with_account(
            {"devices": devices_body(devices), "customFieldsToUpdate": custom_fields_body(fields)}
        )
        return await self._async_action(
            "update_custom_fields", "PUT", "/devices/actions/customFields", body
        )

    async def update_place_of_use(
        self, devices: Sequence[DeviceRef], place_of_use: PlaceOfUse
    ) -> AsyncRequestAccepted:
        """Replace the devices' primary place of use (UNCONFIRMED call: see PLACE_OF_USE_PATH)."""
        body = self._with_account(
            {"devices": devices_body(devices), "primaryPlaceOfUse": place_of_use_body(place_of_use)}
        )
        return await self._async_action("update_place_of_use", "PUT", self._place_of_use_path, body)

    async def set_username(
        self, devices: Sequence[DeviceRef], username: str
    ) -> AsyncRequestAccepted:
        """ThingSpace has no username: it goes into the configured custom field."""
        return await self.update_custom_fields(devices, {self._username_field: username})

    async def set_username_and_cost_center(
        self, devices: Sequence[DeviceRef], *, username: str | None, cost_center: str | None
    ) -> AsyncRequestAccepted:
        """ThingSpace takes the two in separate requests (its capability is not
        ``single_request``): the operation spec sends them one after the other."""
        raise ValueError("ThingSpace sets the username and the cost center in separate requests")

    async def set_cost_center(
        self, devices: Sequence[DeviceRef], cost_center: str | None
    ) -> AsyncRequestAccepted:
        body = self._with_account({"devices": devices_body(devices)})
        if cost_center is None:
            body["removeCostCenter"] = True
        else:
            body["costCenter"] = check_cost_center(cost_center)
        return await self._async_action("set_cost_center", "PUT", "/devices/costCenter", body)

    # -- synchronous actions --------------------------------------------------------

    async def add(
        self,
        devices: Sequence[DeviceRef],
        *,
        state: str | None = None,
        sku_number: str | None = None,
    ) -> SyncActionResult:
        body = self._with_account(
            {"devicesToAdd": devices_body(devices), "state": state or ADD_STATE}
        )
        if sku_number is not None:
            body["skuNumber"] = sku_number
        return await self._sync_action("add", "/devices/actions/add", body, devices)

    async def delete(self, devices: Sequence[DeviceRef]) -> SyncActionResult:
        body = self._with_account(
            {"devicesToDelete": devices_body(devices, limit=MAX_DELETE_DEVICES)}
        )
        return await self._sync_action("delete", "/devices/actions/delete", body, devices)

    async def _sync_action(
        self, operation: str, path: str, body: dict[str, Any], devices: Sequence[DeviceRef]
    ) -> SyncActionResult:
        payload, exchange = await self._call(operation, "POST", path, body)
        results = parse_sync_results(payload, devices)
        if results is None:
            raise malformed("answer is not a per-device list", exchange)
        return SyncActionResult(results=results, exchange=exchange)

    # -- queries --------------------------------------------------------------------

    async def list_devices(
        self, *, device: DeviceRef | None = None, state: str | None = None
    ) -> AsyncIterator[CarrierDevice]:
        body = self._with_account({})
        if device is not None:
            body["deviceId"] = device_ids(device)[0]
        if state is not None:
            body["currentState"] = state
        cursor: Any = None
        while True:
            page_body = body if cursor is None else {**body, "largestDeviceIdSeen": cursor}
            page, exchange = await self._call(
                "list_devices", "POST", "/devices/actions/list", page_body
            )
            if not isinstance(page, dict):
                raise malformed("device list answer is not an object", exchange)
            for raw in page.get("devices") or []:
                if isinstance(raw, dict):
                    yield parse_device(raw)
            if not page.get("hasMoreData"):
                return
            following = next_cursor(page)
            if following is None or following == cursor:
                raise malformed("device list says hasMoreData but gives no new cursor", exchange)
            cursor = following

    async def read_devices(
        self, devices: Sequence[DeviceRef], *, since: datetime
    ) -> dict[str, CarrierDevice | CarrierError]:
        """The account's device list, paged, keeping the devices asked for."""
        wanted = {d.iccid for d in devices}
        seen: dict[str, CarrierDevice | CarrierError] = {}
        async for device in self.list_devices():
            iccid = device.iccid
            if iccid in wanted:
                seen[iccid] = device
        return seen

    async def request_status(self, request_id: str) -> str:
        path = f"/accounts/{self._account_path}/requests/{quote(request_id, safe='')}/status"
        payload, exchange = await self._call("request_status", "GET", path)
        status = None
        if isinstance(payload, dict):
            status = payload.get("status") or payload.get("requestStatus")
        if not isinstance(status, str):
            raise malformed("request status answer without status", exchange)
        return status

    # -- callbacks ------------------------------------------------------------------

    async def register_callback(
        self, url: str, username: str, password: str, name: str | None = None
    ) -> CarrierExchange:
        body = {
            "name": name or CALLBACK_SERVICE,
            "url": url,
            "username": username,
            "password": password,
        }
        register_secret(password, *callback_path_secrets(url))
        _, exchange = await self._call(
            "register_callback", "POST", f"/callbacks/{self._account_path}", body
        )
        return exchange

    async def list_callbacks(self) -> list[CallbackRegistration]:
        payload, exchange = await self._call(
            "list_callbacks", "GET", f"/callbacks/{self._account_path}"
        )
        if not isinstance(payload, list):
            raise malformed("callback list answer is not a list", exchange)
        return [
            CallbackRegistration(
                account_name=str(item.get("accountName") or self._account_name),
                name=str(item.get("name", "")),
                url=str(item.get("url", "")),
            )
            for item in payload
            if isinstance(item, dict)
        ]

    async def aclose(self) -> None:
        """End the session at ThingSpace if `logout_on_close`; the httpx client is the
        caller's to close. Leave logout off when other processes share the token cache."""
        if self._logout_on_close:
            await self._auth.logout()
