"""An attempt that was interrupted (the process died, or its outcome could not be recorded)
may already have reached the carrier. Before repeating it, ask the carrier for the device's
state: if the operation already took effect, or is in flight, do not send it again."""

from __future__ import annotations

from dataclasses import dataclass

from devicebulk_common.carriers import CarrierAdapter, CarrierDevice, CarrierError
from devicebulk_worker.operations import Job

# Carrier states that show each operation took effect ("done") or is under way ("pending").
DONE: dict[str, frozenset[str]] = {
    "activate": frozenset({"active"}),
    "suspend": frozenset({"suspend", "suspended"}),
    "restore": frozenset({"active"}),
    "deactivate": frozenset({"deactive", "deactivated"}),
    "add": frozenset({"preactive"}),
}
PENDING: dict[str, frozenset[str]] = {"activate": frozenset({"pending activation"})}


@dataclass(frozen=True)
class CarrierView:
    verdict: str  # "done", "pending" or "not-done"
    device: CarrierDevice | None
    note: str


async def check(adapter: CarrierAdapter, job: Job) -> CarrierView:
    if job.op not in DONE:
        return CarrierView("not-done", None, f"no state check for {job.op}; repeating it")
    try:
        found = [d async for d in adapter.list_devices(device=job.device)]
    except CarrierError as exc:
        return CarrierView("not-done", None, f"device list failed ({exc.code}); repeating")
    if not found:
        return CarrierView("not-done", None, "carrier does not list the device")
    device = found[0]
    state = device.state.lower()
    if state in DONE[job.op]:
        return CarrierView("done", device, f"carrier already shows the device {state}")
    if state in PENDING.get(job.op, frozenset()):
        return CarrierView("pending", device, f"carrier shows the device {state}")
    return CarrierView("not-done", device, f"carrier shows the device {state}")
