"""`devicebulk-admin dev-token`: a bearer token for the local stack, signed with a key made
once under --key-dir, whose JWKS verifies it with the claims the intake reads."""

from __future__ import annotations

import json
import stat

import jwt

from devicebulk_admin.cli import main
from devicebulk_admin.dev_token import DEV_AUDIENCE, DEV_ISSUER


def _issue(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["dev-token", *args])
    out, err = capsys.readouterr()
    return code, out.strip(), err


def test_dev_token_signs_with_a_key_made_once_and_published_as_jwks(tmp_path, capsys):
    key_dir = tmp_path / "dev-jwt"
    code, token, _ = _issue(
        capsys, "--tenant", "7", "--email", "me@example.test", "--ttl", "120",
        "--scope", "bulk-changes:read", "--key-dir", str(key_dir),
    )  # fmt: skip
    assert code == 0
    assert stat.S_IMODE((key_dir / "signing-key.pem").stat().st_mode) == 0o600
    jwks = json.loads((key_dir / "jwks.json").read_text())
    (published,) = jwks["keys"]
    assert "d" not in published  # the public half only
    header = jwt.get_unverified_header(token)
    assert header["kid"] == published["kid"] and header["alg"] == "RS256"

    claims = jwt.decode(
        token,
        key=jwt.PyJWK(published),
        algorithms=["RS256"],
        audience=DEV_AUDIENCE,
        issuer=DEV_ISSUER,
    )
    assert claims["tenant_id"] == 7
    assert claims["sub"] == claims["email"] == "me@example.test"
    assert claims["scope"] == "bulk-changes:read"
    assert claims["exp"] - claims["iat"] == 120

    code, again, _ = _issue(capsys, "--tenant", "7", "--key-dir", str(key_dir))
    assert code == 0
    assert jwt.get_unverified_header(again)["kid"] == published["kid"]  # the same key
    claims = jwt.decode(
        again, key=jwt.PyJWK(published), algorithms=["RS256"], audience=DEV_AUDIENCE
    )
    assert claims["scope"].split() == [
        "bulk-changes:read", "bulk-changes:write", "bulk-changes:operate"
    ]  # fmt: skip
    assert claims["sub"] == "dev-operator" and "email" not in claims


def test_dev_token_refuses_a_ttl_over_a_week(tmp_path, capsys):
    code, out, err = _issue(
        capsys, "--tenant", "1", "--ttl", str(8 * 24 * 3600), "--key-dir", str(tmp_path)
    )
    assert code == 1 and out == ""
    assert "--ttl is at most" in err
