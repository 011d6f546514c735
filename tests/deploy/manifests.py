"""The rendered overlays, and what the repository says the image and the services are."""

from __future__ import annotations

import functools
import importlib.util
import re
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"


@functools.cache
def validate_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("k8s_validate", K8S / "validate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    return tuple(validate_module().render(overlay))


def of_kind(overlay: str, *kinds: str) -> list[dict[str, Any]]:
    return [o for o in rendered(overlay) if o["kind"] in kinds]


def pod_specs(overlay: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(owner, pod spec) of every Deployment, Job and CronJob."""
    found = []
    for obj in of_kind(overlay, "Deployment", "Job", "CronJob"):
        spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
        template = spec["template"]
        found.append((obj, template["spec"]))
    return found


def container_env(overlay: str, container: dict[str, Any]) -> dict[str, str | None]:
    """Every variable a container gets: its ConfigMaps' (envFrom) and its own; a value taken
    from a Secret is None."""
    maps = {o["metadata"]["name"]: o.get("data", {}) for o in of_kind(overlay, "ConfigMap")}
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        env.update(maps[source["configMapRef"]["name"]])
    for var in container.get("env", []):
        env[var["name"]] = var.get("value")
    return env


def pyproject_scripts() -> dict[str, dict[str, str]]:
    """Each package's name -> its console scripts, from the repository's pyprojects."""
    packages = {}
    for path in [*ROOT.glob("libs/*/pyproject.toml"), *ROOT.glob("services/*/pyproject.toml"),
                 *ROOT.glob("tools/*/pyproject.toml")]:  # fmt: skip
        project = tomllib.loads(path.read_text())["project"]
        packages[project["name"]] = project.get("scripts", {})
    return packages


def image_packages(target: str) -> set[str]:
    """The packages a stage of the Containerfile installs (its `pip install ... -c ...` lines,
    and those of the stages it copies its environment from)."""
    text = (ROOT / "Containerfile").read_text().replace("\\\n", " ")
    stages: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if m := re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line.strip(), re.I):
            current = m.group(2) or m.group(1)
            stages[current] = [m.group(1)]
        elif "--from=" in line:
            stages[current].append(re.search(r"--from=(\S+)", line).group(1))  # type: ignore[union-attr]
        elif "pip install" in line:
            words = line.split("pip install", 1)[1].split("&&")[0].split()
            names = [w for w in words if not w.startswith("-") and "/" not in w]
            stages[current].extend(f"pkg:{n}" for n in names)
    found: set[str] = set()

    def walk(stage: str) -> None:
        for item in stages.get(stage, []):
            if item.startswith("pkg:"):
                found.add(item[4:])
            elif item in stages and item != stage:
                walk(item)

    walk(target)
    return found


def image_scripts(target: str) -> set[str]:
    scripts = pyproject_scripts()
    return {s for pkg in image_packages(target) for s in scripts.get(pkg, {})}
