"""Who is calling: OAuth 2.0 bearer tokens (JWTs) checked against the issuer's JWKS, or, in
development mode only, the X-Tenant-Id / X-User-Email headers.

- ``algorithms``: the asymmetric algorithms a token may be signed with.
- ``jwks``: the issuer's keys, fetched with httpx, cached, refetched on a rotation.
- ``tokens``: one token's signature and claims, read into a :class:`Claims`.
- ``caller``: the FastAPI dependencies the routes use (``ReadCaller`` and the like), and
  :func:`install`, which binds them to the intake's settings.
"""
