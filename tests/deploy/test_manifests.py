"""The rendered overlays against what no schema knows: the services' own settings, the paths
and ports they serve, the image's console scripts, and production's boundaries."""

from __future__ import annotations

import asyncio
import copy
import inspect
import shutil
from typing import Any

import httpx
import pytest
from pydantic_settings import BaseSettings

from devicebulk_callbacks.app import create_app as create_callbacks_app
from devicebulk_callbacks.settings import CallbackSettings
from devicebulk_common.health import HealthServer
from devicebulk_common.outbox.relay import RelaySettings
from devicebulk_common.settings import SECRETS_DIR_ENV, CommonSettings
from devicebulk_common.web import server_config
from devicebulk_intake.app import create_app
from devicebulk_intake.settings import IntakeSettings
from devicebulk_notifier.settings import NotifierSettings
from devicebulk_worker.settings import WorkerSettings
from tests.deploy.manifests import (
    container_env,
    image_scripts,
    of_kind,
    pod_specs,
    rendered,
    validate_module,
)

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")

OVERLAYS = ("production", "dev")
# Each console script, the settings it reads, the setting of the port its probes use (None: it
# serves none) and how long it may take to drain after SIGTERM.
HTTP_DRAIN_S = inspect.signature(server_config).parameters["graceful_shutdown_s"].default
PROCESSES: dict[str, tuple[type[BaseSettings], str | None]] = {
    "devicebulk-intake-api": (IntakeSettings, "intake_port"),
    "devicebulk-relay": (RelaySettings, "relay_health_port"),
    "devicebulk-bulk-worker": (WorkerSettings, "worker_health_port"),
    "devicebulk-callback-receiver": (CallbackSettings, "callbacks_internal_port"),
    "devicebulk-notifier": (NotifierSettings, "notifier_health_port"),
    "devicebulk-admin": (CommonSettings, None),
}
# devicebulk-migrate is argparse, not settings: it reads DATABASE_URL alone.
MIGRATE_ENV = {"DATABASE_URL"}
DEV_ONLY = ("thingspace-sim", "mailpit")


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def _ours(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in _containers(pod) if c["image"].split(":")[0] == "devicebulk"]


async def _intake_answers(paths: set[str]) -> set[str]:
    """The paths the intake app answers (not 404), asked over ASGI (no database: /readyz
    answers 503, which is an answer)."""
    app = create_app(IntakeSettings(auth_mode="dev"))  # which paths it serves, not who may call
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://intake"
    ) as client:
        found = set()
        for path in paths:
            try:
                status = (await client.get(path)).status_code
            except AttributeError:  # /readyz before the lifespan made an engine: routed
                status = 503
            if status != 404:
                found.add(path)
        assert (await client.get("/no-such-probe")).status_code == 404
        return found


def _settings(overlay: str, container: dict[str, Any], monkeypatch) -> BaseSettings:
    """The container's settings as the process would read them (a Secret's value stands in)."""
    cls, _ = PROCESSES[container["command"][0]]
    for name in cls.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    env = {k: ("secret" if v is None else v) for k, v in container_env(overlay, container).items()}
    if container["command"][0] == "devicebulk-notifier":
        env["SMTP_PASSWORD"] = "secret"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return cls(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_strictly(overlay):
    validate = validate_module()
    crds = validate.crd_schemas()
    assert [p for obj in rendered(overlay) for p in validate.problems(obj, crds)] == []


def test_validation_refuses_a_field_its_schema_does_not_declare():
    validate = validate_module()
    crds = validate.crd_schemas()
    deployment = copy.deepcopy(of_kind("production", "Deployment")[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    scaled = copy.deepcopy(of_kind("production", "ScaledObject")[0])
    scaled["spec"]["minReplicaCont"] = 1
    monitor = copy.deepcopy(of_kind("production", "ServiceMonitor")[0])
    monitor["spec"]["endpoints"][0]["intervall"] = "30s"
    for wrong in (deployment, scaled, monitor):
        assert validate.problems(wrong, crds), wrong["kind"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_is_a_setting_of_its_process(overlay, monkeypatch):
    checked = 0
    for _, pod in pod_specs(overlay):
        for container in _ours(pod):
            names = set(container_env(overlay, container))
            command = container["command"][0]
            if command == "devicebulk-migrate":
                assert names <= MIGRATE_ENV, names
                continue
            cls, _ = PROCESSES[command]
            known = {n.upper() for n in cls.model_fields} | {SECRETS_DIR_ENV}
            assert names - known == set(), f"{command} has no setting {names - known}"
            _settings(overlay, container, monkeypatch)  # and every value parses
            checked += 1
    assert checked >= 5


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_ask_what_each_process_serves_where_it_serves_it(overlay, monkeypatch):
    served = {"/healthz", "/readyz", "/metrics"}
    assert asyncio.run(_intake_answers(served)) == served
    probed = set()
    for owner, pod in pod_specs(overlay):
        for container in _ours(pod):
            _, port_setting = PROCESSES.get(container["command"][0], (None, None))
            if port_setting is None:
                assert not any(k.endswith("Probe") for k in container), owner["metadata"]["name"]
                continue
            settings = _settings(overlay, container, monkeypatch)
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            host_setting = port_setting.replace("_port", "_host")
            assert getattr(settings, host_setting) == "0.0.0.0", host_setting
            for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                get = container[kind]["httpGet"]
                assert ports[get["port"]] == getattr(settings, port_setting), (kind, get)
                assert get["path"] in served
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            probed.add(container["command"][0])
    assert probed == {c for c, (_, p) in PROCESSES.items() if p}
    # The health server the others use answers those paths.
    server = HealthServer(host="127.0.0.1", port=0, checks=[])

    async def answers() -> set[str]:
        return {p for p in served if (await server._respond("GET", p))[0] == 200}

    assert asyncio.run(answers()) == served


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_command_is_a_console_script_of_its_image(overlay):
    scripts = {"devicebulk": image_scripts("runtime"),
               "devicebulk-thingspace-sim": image_scripts("thingspace-sim")}  # fmt: skip
    assert {"devicebulk-intake-api", "devicebulk-relay", "devicebulk-bulk-worker",
            "devicebulk-callback-receiver", "devicebulk-notifier", "devicebulk-migrate",
            "devicebulk-admin"} <= scripts["devicebulk"]  # fmt: skip
    assert "thingspace-sim" not in scripts["devicebulk"]
    for owner, pod in pod_specs(overlay):
        for container in _containers(pod):
            image = container["image"].split(":")[0]
            if image in scripts:
                assert container["command"][0] in scripts[image], (owner["metadata"]["name"], image)


def test_production_has_no_simulator_no_mailpit_and_no_development_setting():
    text = str(rendered("production"))
    for name in DEV_ONLY:
        assert name not in text
    settings = {k: v for cm in of_kind("production", "ConfigMap") for k, v in cm["data"].items()}
    assert settings["THINGSPACE_BASE_URL"].startswith("https://")
    assert settings["LOG_LEVEL"] != "DEBUG"
    assert settings["SMTP_STARTTLS"] == "true"
    assert "127.0.0.1" not in str(settings) and "localhost" not in str(settings)
    # Callers are authenticated by their bearer tokens, never by headers they name themselves.
    assert settings["AUTH_MODE"] == "jwt"
    assert settings["AUTH_JWKS_URL"].startswith("https://")
    assert settings["AUTH_ISSUER"] and settings["AUTH_AUDIENCE"]
    # The dev overlay does have them (so the check above can tell).
    assert all(name in str(rendered("dev")) for name in DEV_ONLY)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_locked_down(overlay):
    for owner, pod in pod_specs(overlay):
        name = owner["metadata"]["name"]
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        mounts_needed = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
        for container in _containers(pod):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
            assert {m["name"] for m in container.get("volumeMounts", [])} <= mounts_needed


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_shutdown_fits_in_the_grace_period(overlay, monkeypatch):
    for owner, pod in pod_specs(overlay):
        if owner["kind"] != "Deployment":
            continue
        for container in _ours(pod):
            command = container["command"][0]
            settings: Any = _settings(overlay, container, monkeypatch)
            drain = {
                "devicebulk-intake-api": "HTTP",
                "devicebulk-callback-receiver": "HTTP",
                "devicebulk-bulk-worker": "worker_shutdown_grace_s",
                "devicebulk-notifier": "notifier_shutdown_timeout_s",
                "devicebulk-relay": "RELAY",
            }[command]
            # HTTP: uvicorn's graceful shutdown; the relay: a drain under way (a few batches'
            # confirms, seconds).
            drain_s = {"HTTP": HTTP_DRAIN_S, "RELAY": 5}.get(drain) or getattr(settings, drain)
            pause = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
            assert pause > 0
            assert pod["terminationGracePeriodSeconds"] > pause + drain_s, command


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_what_runs_twice_keeps_one_through_a_disruption(overlay):
    budgets = [
        b["spec"]["selector"]["matchLabels"] for b in of_kind(overlay, "PodDisruptionBudget")
    ]
    minimum = {d["metadata"]["name"]: d["spec"]["replicas"] for d in of_kind(overlay, "Deployment")}
    for hpa in of_kind(overlay, "HorizontalPodAutoscaler"):
        minimum[hpa["spec"]["scaleTargetRef"]["name"]] = hpa["spec"]["minReplicas"]
    for scaled in of_kind(overlay, "ScaledObject"):
        minimum[scaled["spec"]["scaleTargetRef"]["name"]] = scaled["spec"]["minReplicaCount"]
    if overlay == "production":
        assert {n for n, r in minimum.items() if r >= 2} >= {
            "intake-api", "callback-receiver", "relay", "bulk-worker"}  # fmt: skip
    for deployment in of_kind(overlay, "Deployment"):
        name = deployment["metadata"]["name"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        covered = any(all(labels.get(k) == v for k, v in b.items()) for b in budgets)
        if max(minimum[name], deployment["spec"]["replicas"]) >= 2:
            assert covered, name


def test_the_internet_reaches_only_the_callback_path():
    routes = set(create_callbacks_app(CallbackSettings()).openapi()["paths"])
    for overlay in OVERLAYS:
        (ingress,) = of_kind(overlay, "Ingress")
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert (backend["name"], backend["port"]["name"]) == (
                    "callback-receiver",
                    "callbacks",
                )
                assert path["path"] == "/callbacks/"
    assert any(r.startswith("/callbacks/thingspace/") for r in routes)
    assert not any(r.startswith("/callbacks/") for r in {"/healthz", "/readyz", "/metrics"})
    # Deny by default; the intake API only for its labelled in-cluster callers and Prometheus.
    policies = of_kind("production", "NetworkPolicy")
    deny = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny[0]["spec"] and "egress" not in deny[0]["spec"]


def test_bulk_workers_scale_on_their_queue():
    (scaled,) = of_kind("production", "ScaledObject")
    (trigger,) = scaled["spec"]["triggers"]
    from devicebulk_common import contracts

    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["queueName"] == contracts.QUEUE_DEVICE_CHANGES
    assert scaled["spec"]["scaleTargetRef"]["name"] == "bulk-worker"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_come_only_from_the_secret(overlay):
    secret_names = {"CREDENTIALS_KEY", "DATABASE_URL", "RABBITMQ_URL", "SMTP_PASSWORD"}
    for cm in of_kind(overlay, "ConfigMap"):
        assert not secret_names & set(cm["data"]), cm["metadata"]["name"]
    for _, pod in pod_specs(overlay):
        for container in _ours(pod):
            for var in container.get("env", []):
                if var["name"] in secret_names:
                    ref = var["valueFrom"]["secretKeyRef"]
                    assert (ref["name"], ref["key"]) == ("devicebulk", var["name"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_old_data_is_purged_every_night(overlay):
    (cron,) = of_kind(overlay, "CronJob")
    (container,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["devicebulk-admin", "purge", "--older-than", "90d"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
