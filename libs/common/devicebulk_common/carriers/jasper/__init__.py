"""The Cisco IoT Control Center (Jasper) adapter.

adapter.py       JasperAdapter: Basic auth, edits, reads, search, audit trail, the call loop
wire.py          request bodies, answers, dates, and the error-code mapping
config.py        JasperConfig: every UNCONFIRMED choice with its default
status_graph.py  SIM statuses and allowed transitions as data; refuse_transition()
confirm.py       confirming an accepted edit (read-back, audit trail)
gate.py          one call at a time and the calls-per-second cap per account (all processes)
capabilities.py  what the adapter can do, declared as data
factory.py       from a stored provider to an adapter and its shared gate
"""

from .adapter import JasperAdapter
from .capabilities import INTEGRATION, capabilities
from .config import JasperConfig
from .factory import build_jasper_adapter, encrypt_credentials, shared_gate
from .gate import LocalGate, SharedGate
from .status_graph import DEFAULT_GRAPH, STATUSES, StatusGraph, refuse_transition

__all__ = [
    "DEFAULT_GRAPH",
    "INTEGRATION",
    "STATUSES",
    "JasperAdapter",
    "JasperConfig",
    "LocalGate",
    "SharedGate",
    "StatusGraph",
    "build_jasper_adapter",
    "capabilities",
    "encrypt_credentials",
    "refuse_transition",
    "shared_gate",
]
