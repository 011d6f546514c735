"""docker-compose.yml read as Compose reads it: every image pinned, every long-running process
health-checked and started only after the migration, each devicebulk command a console script
of its image and each variable a setting of its process."""

from __future__ import annotations

import yaml

from devicebulk_common.settings import SECRETS_DIR_ENV
from tests.deploy.manifests import ROOT, image_scripts
from tests.deploy.test_manifests import PROCESSES

ONE_SHOT = {"migrate", "seed"}


def _services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_every_image_is_pinned_and_every_server_health_checked():
    for name, service in _services().items():
        repository, _, tag = service["image"].rpartition(":")
        assert repository and tag and tag != "latest", name
        if name not in ONE_SHOT:
            assert "healthcheck" in service, name


def test_the_services_start_after_the_migration_and_what_they_need():
    services = _services()
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("relay", "intake-api", "bulk-worker", "callback-receiver", "notifier"):
        needs = services[name]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully", name
        assert needs["rabbitmq"]["condition"] == "service_healthy", name
    assert services["notifier"]["depends_on"]["mailpit"]["condition"] == "service_healthy"
    assert services["bulk-worker"]["depends_on"]["thingspace-sim"]["condition"] == "service_healthy"


def test_commands_and_settings_are_the_images_and_the_processes():
    runtime, simulator = image_scripts("runtime"), image_scripts("thingspace-sim")
    for name, service in _services().items():
        target = service.get("build", {}).get("target")
        if target is None:
            continue
        command = service["command"]
        if command[0] == "sh":
            scripts = [w for w in command[2].split() if w.startswith("devicebulk-")]
        else:
            scripts = [command[0]]
        assert scripts and set(scripts) <= (runtime if target == "runtime" else simulator), name
        if target != "runtime" or command[0] == "sh":
            continue
        names = set(service.get("environment", {}))
        if command[0] == "devicebulk-migrate":  # argparse: DATABASE_URL alone matters
            assert "DATABASE_URL" in names
            continue
        cls, _ = PROCESSES[command[0]]
        known = {n.upper() for n in cls.model_fields} | {SECRETS_DIR_ENV}
        assert names - known == set(), (name, names - known)


def test_the_simulator_runs_only_in_the_development_stack():
    sim = _services()["thingspace-sim"]
    assert sim["profiles"] == ["stack"]
    assert sim["build"]["target"] == "thingspace-sim"
