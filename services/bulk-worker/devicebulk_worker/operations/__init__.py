"""One module a change type; each registers the operations it runs (``params["op"]``)."""

from devicebulk_worker.operations.registry import (
    LOCAL_OPERATIONS,
    OPERATIONS,
    Job,
    LocalRefusal,
    Operation,
    known,
)

__all__ = ["LOCAL_OPERATIONS", "OPERATIONS", "Job", "LocalRefusal", "Operation", "known"]
