"""The worker's side of the operation specs: jobs, batching limits, the carrier call."""

from devicebulk_worker.operations.registry import Job, Outcome, known, send

__all__ = ["Job", "Outcome", "known", "send"]
