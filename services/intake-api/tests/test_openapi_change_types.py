"""The OpenAPI docs: an example for every change type, ChangeType 9 named, every error declared."""

from __future__ import annotations

from devicebulk_common.contracts import ChangeType
from devicebulk_common.wire import BulkChangeRequest


async def test_every_change_type_has_a_valid_example(api):
    spec = (await api.get("/openapi.json")).json()
    post = spec["paths"]["/api/v1/bulk-changes"]["post"]
    examples = post["requestBody"]["content"]["application/json"]["examples"]
    requests = [BulkChangeRequest.model_validate(e["value"]) for e in examples.values()]
    assert {r.ChangeType for r in requests} == {t.value for t in ChangeType}
    assert "| 9 | **DeviceDeletion** (device deletion)" in post["description"]
    assert "ChangeType 9 is device deletion" in examples["device-deletion"]["description"]


async def test_every_problem_the_submit_endpoints_answer_is_declared(api):
    paths = (await api.get("/openapi.json")).json()["paths"]
    submit = paths["/api/v1/bulk-changes"]["post"]["responses"]
    upload = paths["/api/v1/bulk-changes/csv"]["post"]["responses"]
    dry_run = paths["/api/v1/bulk-changes/validate"]["post"]["responses"]
    assert {"202", "401", "409", "413", "422"} <= set(submit)
    assert {"202", "401", "409", "413", "415", "422"} <= set(upload)
    assert {"200", "401", "413", "422"} <= set(dry_run)
    assert "idempotency-key-reused" in submit["409"]["description"]
    assert "invalid-csv" in upload["422"]["description"]
    assert "application/problem+json" in submit["422"]["content"]


async def test_the_csv_upload_documents_its_body_and_header(api):
    post = (await api.get("/openapi.json")).json()["paths"]["/api/v1/bulk-changes/csv"]["post"]
    assert "text/csv" in post["requestBody"]["content"]
    assert {p["name"] for p in post["parameters"]} >= {"X-Bulk-Change", "Idempotency-Key"}


async def test_the_docs_say_what_each_integration_accepts_with_control_center_examples(api):
    spec = (await api.get("/openapi.json")).json()
    for path in ("/api/v1/bulk-changes", "/api/v1/bulk-changes/validate"):
        post = spec["paths"][path]["post"]
        examples = post["requestBody"]["content"]["application/json"]["examples"]
        jasper = {k: e["value"] for k, e in examples.items() if k.startswith("jasper-")}
        assert {b["ChangeType"] for b in jasper.values()} == {3, 6, 7}
        assert {b["ServiceProviderId"] for b in jasper.values()} == {19}
        assert "unsupported-change-type" in post["responses"]["422"]["description"]
    description = spec["paths"]["/api/v1/bulk-changes"]["post"]["description"]
    assert "| `jasper` (Cisco Control Center, e.g. POD19) | 1, 3, 4, 5, 6, 7;" in description
    assert "**8 and 9 are a `422` problem**" in description
    assert "`Active` (= `ACTIVATED`)" in description
