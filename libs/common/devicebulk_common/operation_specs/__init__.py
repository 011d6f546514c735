"""One operation spec a module, the module named as the operation (``params["op"]``): what
the operation sends, how its devices batch, how the carrier shows it done, and the one
function that records its confirmed result. See :mod:`.spec`."""

from __future__ import annotations

from devicebulk_common.operation_specs import (
    activate,
    add,
    archive,
    assign_customer,
    change_customer_plan,
    change_identifier,
    change_plan,
    deactivate,
    delete,
    edit_username,
    restore,
    set_status,
    suspend,
    update_place_of_use,
)
from devicebulk_common.operation_specs.spec import (
    Confirmed,
    EffectRefused,
    NextPhase,
    OperationSpec,
    Params,
    Verdict,
)

SPECS: dict[str, OperationSpec] = {
    module.SPEC.name: module.SPEC
    for module in (
        activate,
        update_place_of_use,
        suspend,
        restore,
        deactivate,
        add,
        delete,
        change_plan,
        change_identifier,
        edit_username,
        set_status,
        change_customer_plan,
        assign_customer,
        archive,
    )
}


def spec(op: str) -> OperationSpec | None:
    return SPECS.get(op)


__all__ = [
    "SPECS",
    "Confirmed",
    "EffectRefused",
    "NextPhase",
    "OperationSpec",
    "Params",
    "Verdict",
    "spec",
]
