"""The OpenAPI tells an integrator how to call: the bearer scheme (a JWT), the scope each
operation needs, and the 401 and 403 every operation can answer, as problem documents."""

from __future__ import annotations

import pytest

from devicebulk_intake.app import create_app
from devicebulk_intake.settings import IntakeSettings

SCOPES = {
    ("post", "/api/v1/bulk-changes"): "bulk-changes:write",
    ("post", "/api/v1/bulk-changes/validate"): "bulk-changes:write",
    ("post", "/api/v1/bulk-changes/csv"): "bulk-changes:write",
    ("get", "/api/v1/bulk-changes"): "bulk-changes:read",
    ("get", "/api/v1/bulk-changes/{bulk_change_id}"): "bulk-changes:read",
    ("get", "/api/v1/bulk-changes/{bulk_change_id}/devices"): "bulk-changes:read",
    ("get", "/api/v1/bulk-changes/{bulk_change_id}/audit"): "bulk-changes:read",
    (
        "get",
        "/api/v1/bulk-changes/{bulk_change_id}/devices/{device_change_id}/audit",
    ): "bulk-changes:read",
    ("get", "/api/v1/bulk-changes/{bulk_change_id}/results.csv"): "bulk-changes:read",
    ("post", "/api/v1/bulk-changes/{bulk_change_id}/retry"): "bulk-changes:operate",
    ("post", "/api/v1/bulk-changes/{bulk_change_id}/cancel"): "bulk-changes:operate",
}


@pytest.fixture(scope="module")
def spec() -> dict:
    return create_app(IntakeSettings(auth_mode="dev")).openapi()


def test_the_bearer_scheme_is_declared_as_a_jwt(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes == {"bearer": schemes["bearer"]}
    bearer = schemes["bearer"]
    assert (bearer["type"], bearer["scheme"], bearer["bearerFormat"]) == ("http", "bearer", "JWT")
    for scope in set(SCOPES.values()):
        assert scope in bearer["description"]


def test_every_operation_names_the_scope_it_needs(spec):
    operations = {
        (method, path): operation
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    }
    assert set(operations) == set(SCOPES)  # a new operation must be given its scope here
    for key, scope in SCOPES.items():
        assert operations[key]["security"] == [{"bearer": [scope]}], key


def test_every_operation_declares_401_and_403_as_problem_documents(spec):
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            for status in ("401", "403"):
                answer = operation["responses"].get(status)
                assert answer is not None, (method, path, status)
                schema = answer["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path)
