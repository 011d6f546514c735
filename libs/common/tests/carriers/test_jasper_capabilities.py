"""What the Control Center adapter declares it can do, and the budget it takes by default."""

import pytest

from devicebulk_common.carriers.capabilities import UnsupportedOperation
from devicebulk_common.carriers.jasper import JasperConfig, capabilities
from devicebulk_common.carriers.jasper.factory import calls_per_minute
from devicebulk_common.models import ServiceProvider


def test_edits_are_synchronous_one_device_and_confirmed_by_read_back_or_audit_trail():
    caps = capabilities(JasperConfig(username_field="accountCustom7"))

    for operation in ("set_status", "change_plan", "edit_username"):
        declared = caps.operation(operation)
        assert (declared.result, declared.devices_per_request) == ("sync", 1)
        assert declared.confirmed_by == ("read_back", "audit_trail")
    assert "accountCustom7" in caps.operation("edit_username").note
    assert caps.rate_limit.per_minute == 300
    assert (caps.rate_limit.concurrency, caps.rate_limit.throttled_code) == (1, "40000029")
    assert caps.bulk_read == "search_by_modification"


@pytest.mark.parametrize("operation", ["change_identifier", "delete", "suspend", "add"])
def test_operations_without_a_call_are_refused_with_a_reason(operation):
    caps = capabilities(JasperConfig())

    assert not caps.supports(operation)
    with pytest.raises(UnsupportedOperation, match="jasper cannot"):
        caps.operation(operation)


def test_the_budget_is_the_providers_limit_else_the_configured_cap():
    limited = ServiceProvider(integration="jasper", rate_limit_per_minute=120)
    unlimited = ServiceProvider(integration="jasper", rate_limit_per_minute=None)

    assert calls_per_minute(limited, JasperConfig()) == 120
    assert calls_per_minute(unlimited, JasperConfig(calls_per_second=10)) == 600
