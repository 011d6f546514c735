"""Render every overlay with `kubectl kustomize` and validate each object, strictly (a field the
schema does not declare is an error): Kubernetes' own kinds with kubernetes-validate against
KUBERNETES_VERSION, KEDA's and the Prometheus Operator's against the CRD schemas in
deploy/k8s/crds/. The example Secret is checked too. Prints the object count per overlay.

    .venv/bin/python deploy/k8s/validate.py [overlay ...]
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

K8S = Path(__file__).resolve().parent
OVERLAYS = ("production", "dev")
# The oldest Kubernetes release the manifests must apply to.
KUBERNETES_VERSION = "1.32.0"


def render(overlay: str) -> list[dict[str, Any]]:
    out = subprocess.run(  # noqa: S603 (kubectl, our own overlays)
        ["kubectl", "kustomize", str(K8S / "overlays" / overlay)],  # noqa: S607 (kubectl on PATH)
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def _strict(schema: Any) -> Any:
    """Every object schema that lists its properties admits no other (the API server prunes
    unknown fields of a structural CRD schema: a typo would be silently dropped)."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if schema.get("type") == "object" and "properties" in schema:
            schema.setdefault("additionalProperties", False)
    elif isinstance(schema, list):
        schema = [_strict(v) for v in schema]
    return schema


def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    schemas = {}
    for path in sorted((K8S / "crds").glob("*.json")):
        doc = json.loads(path.read_text())
        schemas[(doc["apiVersion"], doc["kind"])] = _strict(copy.deepcopy(doc["openAPIV3Schema"]))
    return schemas


def problems(obj: dict[str, Any], crds: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    key = (obj.get("apiVersion", ""), obj.get("kind", ""))
    name = f"{key[1]}/{obj.get('metadata', {}).get('name')}"
    if key in crds:
        validator = jsonschema.Draft7Validator(crds[key])
        return [
            f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(obj)
        ]
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{name}: {'/'.join(map(str, exc.path))}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"{name}: no schema for {key} in Kubernetes {KUBERNETES_VERSION}: {exc}"]
    return []


def main(argv: list[str]) -> int:
    crds = crd_schemas()
    failed = 0
    for overlay in argv or OVERLAYS:
        objects = render(overlay)
        found = [p for obj in objects for p in problems(obj, crds)]
        kinds = Counter(obj["kind"] for obj in objects)
        print(
            f"{overlay}: {len(objects)} objects "
            f"({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}): "
            + ("valid" if not found else f"{len(found)} problems")
        )
        for problem in found:
            print(f"  {problem}")
        failed += len(found)
    example = [d for d in yaml.safe_load_all((K8S / "secret.example.yaml").read_text()) if d]
    found = [p for obj in example for p in problems(obj, crds)]
    print("secret.example.yaml: " + ("valid" if not found else "; ".join(found)))
    failed += len(found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
