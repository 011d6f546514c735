"""The one exception a command raises for a user mistake: the CLI prints it and exits 1."""

from __future__ import annotations


class AdminError(Exception):
    """A mistake the operator can fix (bad input, a missing row, a duplicate id)."""
