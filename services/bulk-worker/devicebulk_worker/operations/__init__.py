"""One module a change type; each registers the operations it runs (``params["op"]``)."""

from devicebulk_worker.operations.registry import OPERATIONS, Job, Operation

__all__ = ["OPERATIONS", "Job", "Operation"]
