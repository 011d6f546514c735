"""The SIM status graph is data: intake refuses a transition with a reason."""

import pytest

from devicebulk_common.carriers.jasper import (
    DEFAULT_GRAPH,
    JasperConfig,
    StatusGraph,
    refuse_transition,
)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("INVENTORY", "ACTIVATED"),
        ("TEST_READY", "ACTIVATION_READY"),
        ("ACTIVATION_READY", "ACTIVATED"),
        ("ACTIVATED", "DEACTIVATED"),
        ("DEACTIVATED", "ACTIVATED"),
        ("DEACTIVATED", "RETIRED"),
        ("PURGED", "INVENTORY"),  # back to inventory, from PURGED only
        (None, "ACTIVATED"),  # not read from the carrier yet
    ],
)
def test_allowed_transitions_pass(current, target):
    assert refuse_transition(current, target) is None


@pytest.mark.parametrize(
    ("current", "target", "reason"),
    [
        ("ACTIVATED", "INVENTORY", "pre-activation is one way"),
        ("DEACTIVATED", "ACTIVATION_READY", "pre-activation is one way"),
        ("RETIRED", "ACTIVATED", "allowed: PURGED"),
        ("ACTIVATED", "ACTIVATED", "already ACTIVATED"),
        ("ACTIVATED", "SUSPENDED", "not a Control Center SIM status"),
        ("RETIRED", "PURGED", "not a status this provider may set"),
    ],
)
def test_refused_transitions_say_why(current, target, reason):
    refusal = refuse_transition(current, target)

    assert refusal is not None
    assert reason in refusal


def test_the_graph_and_the_targets_are_configurable():
    config = JasperConfig.from_mapping(
        {
            "status_transitions": {"ACTIVATED": ["RETIRED"]},
            "status_targets": ["RETIRED", "ACTIVATED"],
        }
    )
    graph = config.status_graph

    assert graph.refusal("ACTIVATED", "RETIRED") is None
    assert graph.refusal("ACTIVATED", "DEACTIVATED") is not None
    assert DEFAULT_GRAPH.refusal("ACTIVATED", "DEACTIVATED") is None
    with pytest.raises(ValueError, match="unknown SIM statuses"):
        StatusGraph.from_table({"ACTIVE": ["SUSPENDED"]})
    with pytest.raises(ValueError, match="unknown Control Center options"):
        JasperConfig.from_mapping({"usernme_field": "accountCustom1"})


def test_every_sim_status_has_a_neutral_device_status():
    from devicebulk_common.carriers.jasper.status_graph import NEUTRAL_STATUS, STATUSES
    from devicebulk_common.contracts import DeviceStatus

    assert set(NEUTRAL_STATUS) == set(STATUSES)
    assert {DeviceStatus(v) for v in NEUTRAL_STATUS.values()} <= set(DeviceStatus)
