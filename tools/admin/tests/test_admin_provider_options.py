"""A provider's integration options: `--option key=value` on create-provider and
update-provider, checked by the integration before anything is stored, shown by
list-providers."""

from __future__ import annotations

import json

from devicebulk_common.models import ServiceProvider

API_KEY = "d7c3f1aa-0b2e-4c55-jasper-key"


def _jasper_env(monkeypatch) -> None:
    monkeypatch.setenv("JASPER_USERNAME", "cc-api-user")
    monkeypatch.setenv("JASPER_API_KEY", API_KEY)


async def _stored(sessionmaker, provider_id: int) -> ServiceProvider | None:
    async with sessionmaker() as session:
        return await session.get(ServiceProvider, provider_id)


def _create_jasper(provider_id: int, *options: str) -> list[str]:
    args = ["create-provider", "--integration", "jasper", "--id", str(provider_id)]
    args += ["--name", "POD19", "--account-name", "100020620"]
    args += ["--base-url", "https://cc.example/rws/api/v1"]
    for option in options:
        args += ["--option", option]
    return args


async def test_create_provider_stores_checked_options_and_list_providers_shows_them(
    new_id, run_cli, sessionmaker, monkeypatch
) -> None:
    _jasper_env(monkeypatch)
    provider_id = new_id()

    run = await run_cli(
        *_create_jasper(
            provider_id,
            "username_field=accountCustom4",
            "custom_field_max_length=30",
            'status_targets=["ACTIVATED", "DEACTIVATED"]',
        )
    )

    assert run.code == 0, run.err
    stored = await _stored(sessionmaker, provider_id)
    assert stored is not None and stored.carrier_options == {
        "username_field": "accountCustom4",
        "custom_field_max_length": 30,
        "status_targets": ["ACTIVATED", "DEACTIVATED"],
    }
    listed = await run_cli("list-providers", "--json")
    assert listed.code == 0, listed.err
    [row] = [p for p in json.loads(listed.out)["providers"] if p["id"] == provider_id]
    assert row["carrier_options"]["username_field"] == "accountCustom4"
    text = await run_cli("list-providers")
    assert '"custom_field_max_length": 30' in text.out


async def test_options_the_integration_refuses_store_nothing_and_say_why(
    new_id, run_cli, sessionmaker, monkeypatch
) -> None:
    _jasper_env(monkeypatch)
    cases = {
        "usernme_field=accountCustom1": "unknown Control Center options",
        "page_size=500": "page_size must be 1..50",
        "username_field=CustomField1": "username_field must be a custom field",
        "status_targets=SUSPENDED": "status_targets: a list of SIM statuses",
        'status_transitions={"ACTIVE": ["SUSPENDED"]}': "unknown SIM statuses",
        "calls_per_second=fast": "calls_per_second",
        "no-equals-sign": "expected key=value",
    }
    for option, reason in cases.items():
        provider_id = new_id()
        run = await run_cli(*_create_jasper(provider_id, option))
        assert run.code == 1 and reason in run.err, (option, run.err)
        assert "Traceback" not in run.err
        assert await _stored(sessionmaker, provider_id) is None, option

    # ThingSpace's own: the username's custom field is one of CustomField1..5.
    ts = await run_cli(
        "create-provider", "--id", str(new_id()), "--name", "VZW", "--account-name", "0000-1",
        "--base-url", "https://ts.example/api", "--option", "username_field=accountCustom1",
    )  # fmt: skip
    assert ts.code == 1 and "CustomField1, CustomField2" in ts.err, ts.err


async def test_update_provider_sets_and_clears_options_checked_as_a_whole(
    factory, run_cli, sessionmaker
) -> None:
    provider = await factory.provider()  # ThingSpace

    set_ = await run_cli(
        "update-provider", "--id", str(provider.id), "--option", "username_field=CustomField3"
    )
    assert set_.code == 0, set_.err
    assert "carrier_options" in set_.out and "CustomField3" in set_.out
    assert (await _stored(sessionmaker, provider.id)).carrier_options == {
        "username_field": "CustomField3"
    }

    refused = await run_cli(
        "update-provider", "--id", str(provider.id), "--option", "username_field=CustomField9"
    )
    assert refused.code == 1 and "options refused, nothing stored" in refused.err
    assert (await _stored(sessionmaker, provider.id)).carrier_options == {
        "username_field": "CustomField3"
    }

    cleared = await run_cli(
        "update-provider", "--id", str(provider.id), "--clear-option", "username_field"
    )
    assert cleared.code == 0, cleared.err
    assert (await _stored(sessionmaker, provider.id)).carrier_options == {}
