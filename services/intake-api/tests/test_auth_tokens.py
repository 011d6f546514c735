"""Bearer tokens on the intake (AUTH_MODE=jwt), against a JWKS a real local HTTP server
publishes: what is accepted, what is refused and how (401/403 problems with their
WWW-Authenticate challenge), and who a submit records."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from intake_auth_helpers import ALL_SCOPES, SigningKey, bearer, ec_key, jwt_settings, rsa_key
from sqlalchemy import func, select

from devicebulk_common.models import BulkChange
from devicebulk_devstack.processes import free_port
from devicebulk_intake.app import create_app

SUBMIT = "/api/v1/bulk-changes"
PROBLEM = "application/problem+json"
ANY_ID = "5b0cbd43-9b7f-4c31-a7b2-6a1f0a3c2d10"  # fixed: xdist workers collect the same ids


def activation(provider_id: int) -> dict:
    return {
        "ServiceProviderId": provider_id,
        "ChangeType": 3,
        "Devices": ["89148000008245116615"],
        "StatusUpdate": {
            "TargetStatus": "Active",
            "ThingSpaceStatusUpdate": {"ServicePlan": "M2M_4G", "ZipCode": "92127"},
        },
    }


async def _bulk_changes(sessionmaker, tenant_id: int) -> int:
    async with sessionmaker() as s:
        return await s.scalar(
            select(func.count()).select_from(BulkChange).where(BulkChange.tenant_id == tenant_id)
        )


async def test_a_good_token_submits_and_the_bulk_change_names_its_subject(
    jwt_api, issuer, factory, sessionmaker
):
    tenant = await factory.tenant()
    provider = await factory.provider()
    token = issuer.token(issuer.key, tenant.id, sub="auth0|jane", email="jane@example.test")

    answer = await jwt_api.post(SUBMIT, json=activation(provider.id), headers=bearer(token))

    assert answer.status_code == 202, answer.text
    async with sessionmaker() as s:
        bulk = await s.get(BulkChange, uuid.UUID(answer.json()["BulkChangeId"]))
    assert bulk.tenant_id == tenant.id
    assert bulk.created_by == "auth0|jane"  # the token's subject, not a header
    assert bulk.notify_email == "jane@example.test"  # the report goes to the token's email
    view = await jwt_api.get(f"{SUBMIT}/{bulk.id}", headers=bearer(token))
    assert view.status_code == 200 and view.json()["CreatedBy"] == "auth0|jane"


async def test_a_token_without_email_leaves_the_report_to_the_tenant_address(
    jwt_api, issuer, factory, sessionmaker
):
    tenant = await factory.tenant()
    provider = await factory.provider()
    token = issuer.token(issuer.key, tenant.id, sub="svc-integration")
    answer = await jwt_api.post(SUBMIT, json=activation(provider.id), headers=bearer(token))
    assert answer.status_code == 202, answer.text
    async with sessionmaker() as s:
        bulk = await s.get(BulkChange, uuid.UUID(answer.json()["BulkChangeId"]))
    assert bulk.created_by == "svc-integration" and bulk.notify_email is None


async def test_an_ec_key_and_scp_as_a_list_are_accepted(jwt_api, issuer, factory):
    tenant = await factory.tenant()
    key = ec_key()
    issuer.publish(issuer.key, key)
    token = issuer.token(key, tenant.id, scope=None, scp=["bulk-changes:read"])
    answer = await jwt_api.get(SUBMIT, headers=bearer(token))
    assert answer.status_code == 200, answer.text


async def test_no_token_is_a_401_problem_with_a_bearer_challenge_and_no_error_code(jwt_api):
    answer = await jwt_api.get(SUBMIT, headers={"X-Tenant-Id": "1"})  # headers are not enough
    assert answer.status_code == 401
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["type"].endswith("/unauthenticated")
    assert answer.headers["www-authenticate"] == 'Bearer realm="devicebulk"'


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda i, t: i.token(i.key, t, exp=int(time.time()) - 120), "expired"),
        (lambda i, t: i.token(i.key, t, nbf=int(time.time()) + 120), "not valid yet"),
        (lambda i, t: i.token(i.key, t, iss="https://evil.example.test/"), "another issuer"),
        (lambda i, t: i.token(i.key, t, aud="some-other-api"), "another audience"),
        (lambda i, t: i.token(i.key, t, exp=None), "'exp'"),
        (lambda i, t: i.token(i.key, t, sub=None), "'sub'"),
        (lambda i, t: i.token(i.key, t, tenant_id=None), "'tenant_id' claim is not"),
        (lambda i, t: i.token(i.key, t, tenant_id="x"), "'tenant_id' claim is not"),
        (lambda i, t: i.token(i.key, t, tenant_id=2**31), "out of range"),
        (lambda i, t: i.token(i.key, t, tenant_id=2**31 - 7), "does not exist"),
        (lambda i, t: i.unsigned_token(i.key, t), "'none' is not accepted"),
        (lambda i, t: i.hs256_with_public_key(i.key, t), "'HS256' is not accepted"),
        (lambda i, t: i.token(rsa_key(i.key.kid), t), "invalid (InvalidSignatureError)"),
        (lambda i, t: i.token(ec_key(i.key.kid), t), "is for 'RS256', not 'ES256'"),
        (lambda i, t: i.token(i.key, t)[:-6] + "AAAAAA", "invalid"),
        (lambda i, t: "not.a.jwt", "not a well-formed JWT"),
    ],
    ids=[
        "expired",
        "not-yet-valid",
        "wrong-issuer",
        "wrong-audience",
        "no-exp",
        "no-sub",
        "no-tenant",
        "tenant-not-a-number",
        "tenant-past-int4",
        "unknown-tenant",
        "alg-none",
        "hs256-with-public-key",
        "signed-by-another-key-with-the-same-kid",
        "es256-header-on-an-rsa-key",
        "tampered-signature",
        "garbage",
    ],
)
async def test_a_bad_token_is_a_401_invalid_token_and_stores_nothing(
    jwt_api, issuer, factory, sessionmaker, make, reason
):
    tenant = await factory.tenant()
    provider = await factory.provider()
    token = make(issuer, tenant.id)

    answer = await jwt_api.post(SUBMIT, json=activation(provider.id), headers=bearer(token))

    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert problem["type"].endswith("/invalid-token")
    assert reason in problem["detail"]
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="devicebulk", error="invalid_token"')
    assert await _bulk_changes(sessionmaker, tenant.id) == 0


async def test_the_leeway_admits_a_token_that_expired_a_moment_ago(jwt_api, issuer, factory):
    tenant = await factory.tenant()
    token = issuer.token(issuer.key, tenant.id, exp=int(time.time()) - 3)  # leeway is 10 s
    assert (await jwt_api.get(SUBMIT, headers=bearer(token))).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("post", SUBMIT, "bulk-changes:write"),
        ("post", f"{SUBMIT}/validate", "bulk-changes:write"),
        ("post", f"{SUBMIT}/csv", "bulk-changes:write"),
        ("get", SUBMIT, "bulk-changes:read"),
        ("get", f"{SUBMIT}/{ANY_ID}", "bulk-changes:read"),
        ("post", f"{SUBMIT}/{ANY_ID}/retry", "bulk-changes:operate"),
        ("post", f"{SUBMIT}/{ANY_ID}/cancel", "bulk-changes:operate"),
    ],
)
async def test_a_valid_token_without_the_scope_is_a_403_naming_it(
    jwt_api, issuer, factory, sessionmaker, method, path, scope
):
    tenant = await factory.tenant()
    provider = await factory.provider()
    others = " ".join(s for s in ALL_SCOPES.split() if s != scope)
    token = issuer.token(issuer.key, tenant.id, scope=others)

    answer = await jwt_api.request(
        method, path, json=activation(provider.id), headers=bearer(token)
    )

    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert problem["type"].endswith("/insufficient-scope") and problem["RequiredScope"] == scope
    assert scope in problem["detail"]
    assert answer.headers["www-authenticate"] == (
        f'Bearer realm="devicebulk", error="insufficient_scope", scope="{scope}"'
    )
    assert await _bulk_changes(sessionmaker, tenant.id) == 0


async def test_a_rotated_key_is_fetched_once_and_an_unknown_kid_is_not_refetched_within_a_minute(
    jwt_api, issuer, factory
):
    tenant = await factory.tenant()
    first = issuer.token(issuer.key, tenant.id)
    assert (await jwt_api.get(SUBMIT, headers=bearer(first))).status_code == 200
    assert issuer.fetches == 1
    assert (await jwt_api.get(SUBMIT, headers=bearer(first))).status_code == 200
    assert issuer.fetches == 1  # cached

    # The issuer rotates: a new key, the old one withdrawn.
    rotated = rsa_key()
    issuer.publish(rotated)
    answer = await jwt_api.get(SUBMIT, headers=bearer(issuer.token(rotated, tenant.id)))
    assert answer.status_code == 200, answer.text
    assert issuer.fetches == 2  # one refetch for the unknown kid

    # Another unknown kid within the minute: refused from the cache, no fetch.
    stranger = rsa_key()
    answer = await jwt_api.get(SUBMIT, headers=bearer(issuer.token(stranger, tenant.id)))
    assert answer.status_code == 401
    assert f"unknown signing key '{stranger.kid}'" in answer.json()["detail"]
    assert issuer.fetches == 2
    # The withdrawn key is gone with the refetch.
    assert (await jwt_api.get(SUBMIT, headers=bearer(first))).status_code == 401
    assert issuer.fetches == 2


async def test_an_unreachable_jwks_is_a_503_problem_not_a_500(
    database_url, credentials_key, issuer, factory
):
    tenant = await factory.tenant()
    nowhere = f"http://127.0.0.1:{free_port()}/jwks.json"  # nothing listens there
    app = create_app(jwt_settings(database_url, nowhere))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as api:
            answer = await api.get(SUBMIT, headers=bearer(issuer.token(issuer.key, tenant.id)))
    assert answer.status_code == 503
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["type"].endswith("/authentication-unavailable")
    assert answer.headers["retry-after"] == "5"


async def test_a_key_published_without_alg_checks_only_signatures_of_its_own_type(
    jwt_api, issuer, factory
):
    tenant = await factory.tenant()
    bare = rsa_key()
    issuer.publish(SigningKey(bare.kid, bare.alg, bare.private, {
        k: v for k, v in bare.jwk.items() if k != "alg"
    }))  # fmt: skip
    good = await jwt_api.get(SUBMIT, headers=bearer(issuer.token(bare, tenant.id)))
    assert good.status_code == 200, good.text
    forged = issuer.token(ec_key(bare.kid), tenant.id)  # ES256 header, the RSA key's kid
    answer = await jwt_api.get(SUBMIT, headers=bearer(forged))
    assert answer.status_code == 401
    assert f"key '{bare.kid}' cannot check an ES256 signature" in answer.json()["detail"]
