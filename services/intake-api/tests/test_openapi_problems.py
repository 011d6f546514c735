"""The OpenAPI documents every error answer as what the intake sends: an RFC 9457 problem
under application/problem+json, with the malformed-body 400 and the body bound's 413."""

from __future__ import annotations

from devicebulk_intake.app import create_app
from devicebulk_intake.settings import IntakeSettings


def test_every_error_answer_is_documented_as_a_problem_document():
    spec = create_app(IntakeSettings()).openapi()
    errors = [
        (path, method, status, list(answer.get("content", {})))
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for status, answer in operation["responses"].items()
        if status[0] in "45"
    ]
    assert errors
    wrong = [e for e in errors if e[3] != ["application/problem+json"]]
    assert wrong == []
    submit = spec["paths"]["/api/v1/bulk-changes"]["post"]["responses"]
    assert {"400", "413", "422", "429"} <= set(submit)
    results = spec["paths"]["/api/v1/bulk-changes/{bulk_change_id}/results.csv"]["get"]
    assert "422" in results["responses"]
