"""ThingSpace's two tokens: the OAuth access token and the M2M session token.

Both live in a TokenCache shared by every call for the account. A refresh happens under
the cache's refresh lock and is double-checked after the lock is taken, so that a burst
of calls on an empty cache fetches one access token and logs in once.

A refused token fetch or login is remembered in the cache for `refusal_hold_s` (keyed by
a fingerprint of the credentials, so corrected credentials are not held back): five
refused logins in a row lock the ThingSpace API user, so no caller tries again meanwhile.
The hold is, by default, until the credentials change (:data:`REFUSAL_HOLD_S`): a refused
login is never followed by another one with the same credentials until an operator acts
(saves new credentials for the provider), and every call meanwhile fails at once with the
named reason ``CredentialsRefused``, sending nothing.

A login counts against the account's call limit at the carrier, so it takes a slot of the
account's shared budget (`pacer`) like any other call: logins never push the calls of the
devices past the limit (and a login is never wasted on a 429).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from .errors import (
    AuthExpiredError,
    CarrierError,
    CredentialsRefusedError,
)
from .redaction import register_secret
from .tokens import TokenCache
from .transport import CarrierTransport, malformed

log = structlog.get_logger(__name__)

TOKEN_PATH = "/ts/v1/oauth2/token"
LOGIN_PATH = "/m2m/v1/session/login"
LOGOUT_PATH = "/m2m/v1/session/logout"
DEFAULT_EXPIRES_IN_S = 3600.0
# How long a refusal holds back further tries with the same credentials: until they change.
REFUSAL_HOLD_S = 10 * 365 * 86_400.0


def _is_refusal(exc: CarrierError) -> bool:
    """A 4xx that says no to the credentials (not throttling, not an expired bearer)."""
    status = exc.http_status
    if status is None or not 400 <= status < 500 or status in (408, 429):
        return False
    return not isinstance(exc, AuthExpiredError)


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


class ThingSpaceAuth:
    def __init__(
        self,
        transport: CarrierTransport,
        *,
        key_prefix: str,
        client_key: str,
        client_secret: str,
        username: str,
        password: str,
        cache: TokenCache,
        margin_s: float,
        session_idle_s: float,
        refusal_hold_s: float,
        clock: Callable[[], float],
        pacer: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._transport = transport
        self._pacer = pacer
        self._client_key = client_key
        register_secret(client_secret, password)
        self._client_secret = client_secret
        self._username = username
        self._password = password
        self._cache = cache
        self._margin_s = margin_s
        self._session_idle_s = session_idle_s
        self._refusal_hold_s = refusal_hold_s
        self._clock = clock
        self.oauth_key = f"{key_prefix}:oauth"
        self.session_key = f"{key_prefix}:session"
        # The client secret is long and random, so these hashes give nothing away.
        fingerprint = _fingerprint(client_key, client_secret, username, password)
        self._oauth_refused_key = f"{self.oauth_key}:refused:{fingerprint}"
        self._session_refused_key = f"{self.session_key}:refused:{fingerprint}"

    # -- access token ---------------------------------------------------------------

    async def access_token(self) -> str:
        cached = await self._cache.get(self.oauth_key)
        if cached is not None and cached.usable(self._clock(), self._margin_s):
            return cached.value
        async with self._cache.refresh_lock(self.oauth_key):
            cached = await self._cache.get(self.oauth_key)
            if cached is not None and cached.usable(self._clock(), self._margin_s):
                return cached.value
            await self._raise_if_refused(self._oauth_refused_key, "OAuth client")
            token, expires_in = await self._fetch_access_token()
            await self._cache.set(self.oauth_key, token, self._clock() + expires_in)
            return token

    async def _fetch_access_token(self) -> tuple[str, float]:
        basic = base64.b64encode(f"{self._client_key}:{self._client_secret}".encode()).decode()
        try:
            response, exchange = await self._transport.request(
                "oauth_token",
                "POST",
                TOKEN_PATH,
                headers={"Authorization": f"Basic {basic}"},
                form={"grant_type": "client_credentials"},
            )
        except CarrierError as exc:
            if _is_refusal(exc):
                raise await self._refused(self._oauth_refused_key, "OAuth client", exc) from exc
            exc.outcome_unknown = False  # a lost token answer: the action was never sent
            raise
        body: Any = self._transport.decode(response, exchange)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise malformed("token answer without access_token", exchange)
        try:
            expires_in = float(body.get("expires_in") or DEFAULT_EXPIRES_IN_S)
        except (TypeError, ValueError):
            expires_in = DEFAULT_EXPIRES_IN_S
        log.info("carrier.access_token_fetched", expires_in=expires_in)
        return token, expires_in

    # -- session token --------------------------------------------------------------

    async def session_token(self, access_token: str) -> str:
        """The cached session, or one new login (with the access token valid now, which
        may be newer than `access_token`)."""
        cached = await self._cache.get(self.session_key)
        if cached is not None and cached.usable(self._clock(), self._margin_s):
            return cached.value
        async with self._cache.refresh_lock(self.session_key):
            cached = await self._cache.get(self.session_key)
            if cached is not None and cached.usable(self._clock(), self._margin_s):
                return cached.value
            await self._raise_if_refused(self._session_refused_key, "API user")
            # The access token may have been dropped (900901) while this waited for the lock:
            # never log in with a token known to be ended (a wasted login counts).
            token = await self._login(await self.access_token())
            await self._cache.set(self.session_key, token, self._clock() + self._session_idle_s)
            return token

    async def _login(self, access_token: str) -> str:
        if self._pacer is not None:
            await self._pacer()  # the login is a call the carrier counts
        try:
            response, exchange = await self._transport.request(
                "session_login",
                "POST",
                LOGIN_PATH,
                headers={"Authorization": f"Bearer {access_token}"},
                json_body={"username": self._username, "password": self._password},
            )
        except CarrierError as exc:
            if _is_refusal(exc):
                raise await self._refused(self._session_refused_key, "API user", exc) from exc
            exc.outcome_unknown = False  # a lost login answer: the action was never sent
            raise
        body: Any = self._transport.decode(response, exchange)
        token = body.get("sessionToken") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise malformed("login answer without sessionToken", exchange)
        log.info("carrier.session_login")
        return token

    async def session_used(self, session_token: str) -> None:
        """ThingSpace extends a session on each use; so do we, conservatively."""
        await self._cache.touch(
            self.session_key, session_token, self._clock() + self._session_idle_s
        )

    async def invalidate_access(self, access_token: str) -> None:
        await self._cache.invalidate(self.oauth_key, access_token)

    async def invalidate_session(self, session_token: str) -> None:
        await self._cache.invalidate(self.session_key, session_token)

    async def logout(self) -> None:
        """End the cached session at ThingSpace, if there is one (best effort)."""
        access = await self._cache.get(self.oauth_key)
        session = await self._cache.get(self.session_key)
        if access is None or session is None:
            return
        await self._cache.invalidate(self.session_key, session.value)
        try:
            await self._transport.request(
                "session_logout",
                "POST",
                LOGOUT_PATH,
                headers={
                    "Authorization": f"Bearer {access.value}",
                    "VZ-M2M-Token": session.value,
                },
            )
        except CarrierError as exc:
            log.warning("carrier.session_logout_failed", code=exc.code)

    # -- refusals -------------------------------------------------------------------

    async def _refused(
        self, refused_key: str, who: str, exc: CarrierError
    ) -> CredentialsRefusedError:
        detail = f"{exc.code}: {exc.message}" if exc.code else exc.message
        await self._cache.set(refused_key, detail, self._clock() + self._refusal_hold_s)
        log.error("carrier.credentials_refused", who=who, code=exc.code, status=exc.http_status)
        return CredentialsRefusedError(
            f"{who} refused: {exc.message}",
            code=exc.code or "CredentialsRefused",
            http_status=exc.http_status,
            exchange=exc.exchange,
        )

    async def _raise_if_refused(self, refused_key: str, who: str) -> None:
        # Read from the shared store, not this process's copy: the mark is dropped when an
        # operator saves the provider's credentials again (`update-provider`), and every
        # worker must see that without a restart. Only asked when a login is due: cheap.
        refused = await self._cache.get(refused_key, fresh=True)
        if refused is not None:
            raise CredentialsRefusedError(
                f"{who} was refused ({refused.value}); not trying again with the same "
                "credentials (five refused logins lock the carrier's API user): save the "
                "provider's corrected credentials",
                code="CredentialsRefused",
            )
