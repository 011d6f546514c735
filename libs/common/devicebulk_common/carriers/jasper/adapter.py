"""The Cisco IoT Control Center (Jasper) adapter: one account, HTTP Basic with an API key.

Control Center edits one device per synchronous `PUT /devices/{iccid}`: no request id, no
callback. An accepted edit (`DeviceEditAccepted`) is confirmed afterwards by reading the device
back, or, for a dated or late change, from the device's audit trail (`confirm`). Many devices
are read back at once by paging Search Devices from a modification time.

Every call goes through the account's gate: one call at a time and the calls-per-second cap,
across processes with `SharedGate`, which spaces calls by their real send times so they neither
overlap nor bunch up (see gate.py). `40000029` is retried here a few times with backoff (the carrier
did nothing); past that the caller gets `ThrottledError`. A refused key (`10000001`) is
remembered in the shared cache: no call is sent with those credentials until the hold ends.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import structlog

from ..base import CarrierDevice, CarrierExchange, DeviceRef
from ..capabilities import CarrierCapabilities, DeviceEditAccepted, EditConfirmation
from ..errors import CarrierError, CredentialsRefusedError, PermanentCarrierError, ThrottledError
from ..rate_limit import BudgetDeferred
from ..redaction import register_secret
from ..tokens import TokenCache
from ..transport import CarrierTransport, malformed
from . import wire
from .capabilities import capabilities
from .config import JasperConfig
from .confirm import confirm as confirm_edit
from .gate import Gate, LocalGate

log = structlog.get_logger(__name__)

Pacer = Callable[[], Awaitable[None]]


def _now() -> datetime:
    return datetime.now(UTC)


class JasperAdapter:
    """Control Center for one account. The httpx client is the caller's (its timeouts apply)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        account_name: str,
        username: str,
        api_key: str,
        refusal_cache: TokenCache,
        config: JasperConfig | None = None,
        pacer: Pacer | None = None,
        gate: Gate | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config or JasperConfig()
        self.config.check()
        self._account_name = account_name
        self._transport = CarrierTransport(http, base_url)
        basic = base64.b64encode(f"{username}:{api_key}".encode()).decode()
        register_secret(api_key, basic)
        self._headers = {"Authorization": f"Basic {basic}"}
        self._pacer = pacer
        self._gate = gate or LocalGate(self.config.concurrency)
        self._cache = refusal_cache
        self._clock = clock
        self._sleep = sleep
        fingerprint = hashlib.sha256(f"{username}\0{api_key}".encode()).hexdigest()[:16]
        self._refused_key = f"jasper:{base_url.rstrip('/')}:{username}:refused:{fingerprint}"

    @property
    def account_name(self) -> str:
        return self._account_name

    @property
    def capabilities(self) -> CarrierCapabilities:
        return capabilities(self.config)

    # -- the call ----------------------------------------------------------------------

    async def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
    ) -> tuple[httpx.Response, CarrierExchange]:
        if params:
            path = f"{path}?{httpx.QueryParams(dict(params))}"
        attempt = 0
        while True:
            try:
                async with self._gate() as slot:
                    # Checked once the slot is ours (a refusal another process met is recorded
                    # before it lets the slot go), while the send time is still ahead.
                    await self._raise_if_refused()
                    if self._pacer is not None:
                        await self._pacer()
                    await slot.ready()
                    return await self._send(operation, method, path, body)
            except ThrottledError:
                if attempt >= self.config.throttle_retries:
                    raise
            attempt += 1
            delay = min(
                self.config.throttle_backoff_max_s,
                self.config.throttle_backoff_s * 2 ** (attempt - 1),
            )
            delay *= random.uniform(0.75, 1.25)
            log.info("carrier.throttled", operation=operation, attempt=attempt, wait_s=delay)
            await self._sleep(delay)

    async def _send(
        self, operation: str, method: str, path: str, body: Any
    ) -> tuple[httpx.Response, CarrierExchange]:
        """One request, its failure mapped; a refused key is remembered before the gate is
        let go, so the next caller of any process sees the refusal instead of calling."""
        try:
            return await self._transport.request(
                operation, method, path, headers=self._headers, json_body=body
            )
        except CarrierError as exc:
            error = wire.map_error(exc, self.config)
            if isinstance(error, CredentialsRefusedError):
                await self._remember_refusal(error)
            if error is exc:
                raise
            raise error from exc

    async def _json(
        self, operation: str, method: str, path: str, **kw: Any
    ) -> tuple[Any, CarrierExchange]:
        response, exchange = await self._call(operation, method, path, **kw)
        return self._transport.decode(response, exchange), exchange

    async def _remember_refusal(self, error: CredentialsRefusedError) -> None:
        detail = f"{error.code}: {error.message}"
        await self._cache.set(self._refused_key, detail, self._clock() + self.config.refusal_hold_s)
        log.error("carrier.credentials_refused", code=error.code, status=error.http_status)

    async def _raise_if_refused(self) -> None:
        refused = await self._cache.get(self._refused_key)
        if refused is not None:
            raise CredentialsRefusedError(
                f"Control Center refused this API key recently ({refused.value}); no call is "
                "sent with it before the hold ends or the key changes",
                code=wire.AUTH_REFUSED,
            )

    # -- edits -------------------------------------------------------------------------

    async def edit(
        self,
        device: DeviceRef,
        changes: Mapping[str, str],
        *,
        effective_at: datetime | None = None,
    ) -> DeviceEditAccepted:
        """Edit Device Details (`PUT /devices/{iccid}`) with Control Center field names."""
        iccid = wire.check_iccid(device.iccid)
        if effective_at is not None:
            effective_at = wire.as_sent(effective_at, self.config)
        body = wire.edit_body(changes, effective_at, self.config)
        sent_at = _now()
        dated = effective_at is not None and effective_at > sent_at
        try:
            response, exchange = await self._call(
                "edit_device", "PUT", f"/devices/{quote(iccid, safe='')}", body=body
            )
        except PermanentCarrierError as exc:
            # "Already in that status": nothing to do; the read-back confirms it.
            if not (
                "status" in changes
                and exc.code in self.config.already_in_status_codes
                and exc.exchange is not None
                and not dated
            ):
                raise
            applied, exchange = False, exc.exchange
        else:
            applied = response.status_code == 200 and not dated
        return DeviceEditAccepted(
            device=device,
            fields=dict(changes),
            sent_at=sent_at,
            effective_at=effective_at if dated else None,
            applied=applied,
            exchange=exchange,
        )

    async def confirm(self, accepted: DeviceEditAccepted) -> EditConfirmation:
        """Read the device back; for a dated or late change, look for it in the audit trail.

        A read that waited too long for the account's gate is a `ThrottledError` here, not
        `BudgetDeferred`: the edit was sent, and a caller that deferred it as unsent would send
        it again; a carrier error leaves the confirmation for later instead."""
        try:
            return await confirm_edit(self, accepted)
        except BudgetDeferred as exc:
            raise ThrottledError(
                f"the read-back waited past its limit for the account's gate ({exc})",
                code="GateBusy",
                http_status=None,
            ) from exc

    async def set_status(
        self, device: DeviceRef, status: str, *, effective_at: datetime | None = None
    ) -> DeviceEditAccepted:
        return await self.edit(device, {"status": status}, effective_at=effective_at)

    async def change_rate_plan(
        self, device: DeviceRef, rate_plan: str, *, effective_at: datetime | None = None
    ) -> DeviceEditAccepted:
        return await self.edit(device, {"ratePlan": rate_plan}, effective_at=effective_at)

    async def set_username(
        self, device: DeviceRef, username: str | None, cost_center: str | None
    ) -> DeviceEditAccepted:
        """Username and cost center into their configured custom fields (None clears one)."""
        return await self.edit(
            device,
            {
                self.config.username_field: username or "",
                self.config.cost_center_field: cost_center or "",
            },
        )

    # -- reads -------------------------------------------------------------------------

    async def device_details(self, device: DeviceRef) -> tuple[CarrierDevice, CarrierExchange]:
        iccid = wire.check_iccid(device.iccid)
        body, exchange = await self._json("get_device", "GET", f"/devices/{quote(iccid, safe='')}")
        if not isinstance(body, dict) or not body.get("iccid"):
            raise malformed("device details answer without iccid", exchange)
        return wire.parse_device(body), exchange

    async def get_device(self, device: DeviceRef) -> CarrierDevice:
        return (await self.device_details(device))[0]

    async def search_devices(
        self,
        modified_since: datetime,
        *,
        modified_till: datetime | None = None,
        status: str | None = None,
    ) -> AsyncIterator[CarrierDevice]:
        """Devices changed in the window, oldest change first (iccid, status, rate plan)."""
        params: dict[str, str | int] = {
            "modifiedSince": wire.request_datetime(modified_since),
            "pageSize": self.config.page_size,
        }
        if modified_till is not None:
            params["modifiedTill"] = wire.request_datetime(modified_till)
        if status is not None:
            params["status"] = status
        page = 1
        while True:
            body, exchange = await self._json(
                "search_devices", "GET", "/devices", params={**params, "pageNumber": page}
            )
            parsed = wire.parse_search_page(body)
            if parsed is None:
                raise malformed("search answer without devices", exchange)
            devices, last = parsed
            for found in devices:
                yield found
            if last:
                return
            page += 1

    async def list_devices(
        self, *, device: DeviceRef | None = None, state: str | None = None
    ) -> AsyncIterator[CarrierDevice]:
        """Inventory: one device's details, or every device changed since `inventory_since`
        (in windows of `search_window_days` when set)."""
        if device is not None:
            found = await self.get_device(device)
            if state is None or found.state == state:
                yield found
            return
        start, end = self.config.inventory_since, _now()
        step = self.config.search_window_days
        while start < end:
            till = min(end, start + timedelta(days=step)) if step else None
            async for found in self.search_devices(start, modified_till=till, status=state):
                yield found
            if till is None:
                return
            start = till

    async def read_back(
        self, devices: Sequence[DeviceRef], *, since: datetime
    ) -> dict[str, CarrierDevice]:
        """Many devices at once: Search Devices from `since` (e.g. a batch's start), keeping the
        ones asked for. A device the search does not show was not changed since then. Search
        entries carry the status and the plans only: custom fields need `device_details`."""
        wanted = {d.iccid for d in devices}
        seen: dict[str, CarrierDevice] = {}
        async for found in self.search_devices(since):
            if found.iccid in wanted:
                seen[found.iccid] = found  # a later entry is a later change
        return seen

    async def audit_trail(
        self, device: DeviceRef, *, days: int | None = None
    ) -> tuple[list[wire.AuditEntry], list[CarrierExchange]]:
        iccid = wire.check_iccid(device.iccid)
        days = days or self.config.audit_days_of_history
        rows: list[wire.AuditEntry] = []
        exchanges: list[CarrierExchange] = []
        page = 1
        while True:
            params = {"daysOfHistory": days, "pageSize": self.config.page_size, "pageNumber": page}
            body, exchange = await self._json(
                "audit_trail", "GET", f"/devices/{quote(iccid, safe='')}/auditTrails", params=params
            )
            exchanges.append(exchange)
            parsed = wire.parse_audit_page(body)
            if parsed is None:
                raise malformed("audit trail answer without deviceAuditTrails", exchange)
            page_rows, last = parsed
            rows.extend(page_rows)
            if last:
                return rows, exchanges
            page += 1

    async def aclose(self) -> None:
        """Nothing to end: no session. The httpx client is the caller's to close."""
