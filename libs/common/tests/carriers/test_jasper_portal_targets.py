"""The portal's TargetStatus for a Control Center provider, and transitions judged from our
neutral device status (all intake knows of a SIM's status)."""

import pytest

from devicebulk_common.carriers.jasper.status_graph import refuse_from_neutral, sim_target


@pytest.mark.parametrize(
    ("given", "sim"),
    [
        ("Active", "ACTIVATED"),
        ("Deactive", "DEACTIVATED"),
        ("Inventory", "INVENTORY"),
        ("RETIRED", "RETIRED"),
        ("test_ready", "TEST_READY"),
        ("Suspend", None),
        ("Restore", None),
        ("SUSPENDED", None),
    ],
)
def test_the_portals_targets_name_sim_statuses(given, sim):
    assert sim_target(given) == sim


@pytest.mark.parametrize(
    ("neutral", "target", "reason"),
    [
        ("preactive", "ACTIVATED", None),
        ("preactive", "ACTIVATION_READY", None),  # from INVENTORY or TEST_READY it may
        ("preactive", "INVENTORY", "a ACTIVATION_READY SIM may not become INVENTORY"),
        ("active", "DEACTIVATED", None),
        ("active", "ACTIVATED", "the SIM is already ACTIVATED"),
        ("active", "RETIRED", "a ACTIVATED SIM may not become RETIRED (allowed: DEACTIVATED)"),
        ("deactivated", "ACTIVATED", None),
        ("deactivated", "INVENTORY", None),  # a PURGED SIM may: the carrier has the last word
        ("pending_activation", "ACTIVATED", None),  # not known: not held against it
    ],
)
def test_a_transition_from_a_neutral_status_is_refused_only_when_no_sim_status_allows_it(
    neutral, target, reason
):
    got = refuse_from_neutral(neutral, target)
    if reason is None:
        assert got is None
    else:
        assert got is not None and got.startswith(reason)
