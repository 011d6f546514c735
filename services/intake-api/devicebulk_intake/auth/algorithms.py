"""The signing algorithms a token may use: asymmetric only.

``none`` would accept an unsigned token, and an HMAC algorithm (HS*) would let anyone who has
the issuer's *public* key (everyone: it is published in the JWKS) sign tokens with it. Neither
can be configured.
"""

from __future__ import annotations

ASYMMETRIC = frozenset(
    {
        "RS256", "RS384", "RS512",
        "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512",
        "EdDSA",
    }
)  # fmt: skip
DEFAULT_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip


def parse_algorithms(raw: str) -> tuple[str, ...]:
    """``AUTH_ALGORITHMS`` (comma or space separated), checked against the asymmetric set."""
    names = tuple(name for name in raw.replace(",", " ").split() if name)
    if not names:
        raise ValueError("AUTH_ALGORITHMS is empty: name at least one, e.g. RS256")
    refused = [name for name in names if name not in ASYMMETRIC]
    if refused:
        raise ValueError(
            f"AUTH_ALGORITHMS may only name asymmetric algorithms ({', '.join(sorted(ASYMMETRIC))}),"
            f" not {', '.join(refused)}"
        )
    return names
