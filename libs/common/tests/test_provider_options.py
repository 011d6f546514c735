"""Each integration checks its own options (what a provider stores), and a capability's
``single_request`` decides how many steps EditUsername takes."""

from __future__ import annotations

import pytest

from devicebulk_common.carriers.jasper import JasperConfig
from devicebulk_common.carriers.thingspace_config import ThingSpaceConfig
from devicebulk_common.models import ServiceProvider
from devicebulk_common.operation_specs import edit_username
from devicebulk_common.providers import (
    InvalidCarrierOptions,
    capabilities_of,
    carrier_config,
    merged_options,
    provider_config,
)


def test_each_integration_builds_its_config_from_plain_options():
    jasper = carrier_config("jasper", {"username_field": "accountCustom3", "page_size": 20})
    thingspace = carrier_config("thingspace", {"username_field": "CustomField2"})

    assert isinstance(jasper, JasperConfig) and jasper.username_field == "accountCustom3"
    assert jasper.page_size == 20 and jasper.cost_center_field == "accountCustom2"
    assert isinstance(thingspace, ThingSpaceConfig) and thingspace.username_field == "CustomField2"


@pytest.mark.parametrize(
    ("integration", "options", "reason"),
    [
        ("jasper", {"page_size": "50"}, "option page_size: '50' is not a int"),
        ("jasper", {"refusal_hold_s": True}, "option refusal_hold_s"),
        ("jasper", {"audit_done_statuses": "Done"}, "is not a list of strings"),
        ("jasper", {"username_field": "accountCustom2"}, "must differ"),
        ("jasper", {"status_targets": ["SUSPENDED"]}, "unknown SIM statuses as targets"),
        ("jasper", {"effective_date_style": "epoch"}, "effective_date_style"),
        ("thingspace", {"username_field": "CustomField6"}, "CustomField1, CustomField2"),
        ("thingspace", {"cost_center_field": "x"}, "unknown ThingSpace options"),
    ],
)
def test_options_an_integration_refuses_name_the_option(integration, options, reason):
    with pytest.raises(InvalidCarrierOptions, match=reason):
        carrier_config(integration, options)


def test_a_providers_own_options_win_over_a_services_defaults():
    provider = ServiceProvider(
        id=1, integration="thingspace", carrier_options={"username_field": "CustomField4"}
    )
    defaults = {"thingspace": {"username_field": "CustomField3"}, "jasper": {"page_size": 5}}

    assert merged_options(provider, defaults) == {"username_field": "CustomField4"}
    provider.carrier_options = {}
    config = provider_config(provider, defaults)
    assert isinstance(config, ThingSpaceConfig) and config.username_field == "CustomField3"


def test_edit_username_takes_one_step_where_one_request_carries_both():
    params = {"op": "edit_username", "username": "alice", "cost_center": "CC-7"}
    jasper = capabilities_of("jasper", JasperConfig()).operation("edit_username")
    thingspace = capabilities_of("thingspace", ThingSpaceConfig()).operation("edit_username")

    one = edit_username.plan(params, jasper)
    assert one is not None and edit_username.phases(one) == ["username_and_cost_center"]
    assert edit_username.plan(params, thingspace) is None
    assert edit_username.phases(params) == ["custom_fields", "cost_center"]
    # A change already under way keeps its steps.
    assert edit_username.plan({**params, "phase": "cost_center"}, jasper) is None
