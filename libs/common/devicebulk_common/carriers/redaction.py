"""Redaction of secrets from texts (HTTP bodies kept as audit records, log lines).

Two passes: by key (a normalised list: case, `_` and `-` do not matter) and by value (every
secret an adapter holds is registered with `register_secret` and masked wherever it
appears). Callback URLs' path secrets are masked by their shape as well.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

REDACTED = "***"

# Normalised (lower case, no "_" or "-"): see `normalise_key`.
SECRET_KEYS: frozenset[str] = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "username",
        "token",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "sessiontoken",
        "vzm2mtoken",
        "apikey",
        "xapikey",
        "clientsecret",
        "secret",
        "credentials",
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "pathsecret",
        "callbackpathsecret",
    }
)
_SECRET_SUFFIXES = ("token", "secret", "password", "apikey", "credentials")

# Values shorter than this are not masked by value (they would mask half of every text).
MIN_SECRET_LENGTH = 6
MAX_REGISTERED = 1024

_FORM = re.compile(r"[\w.~%+-]+=[^&\s]*(?:&[\w.~%+-]+=[^&\s]*)*")
_JSONISH = re.compile(
    r'("(?P<key>[A-Za-z0-9_-]+)"\s*:\s*)("(?:[^"\\]|\\.)*"|[^,}\]\s]+)',
)
_HEADERISH = re.compile(
    r"(?P<key>authorization|proxy-authorization|vz-m2m-token|x-api-key)(?P<sep>\s*[:=]\s*)"
    r"(?P<scheme>(?:bearer|basic|token)\s+)?[^\s,;\"'}]+",
    re.IGNORECASE,
)
# The receiver's path: /callbacks/<integration>/<provider id>/<path secret>
_CALLBACK_PATH = re.compile(r"(/callbacks/[A-Za-z0-9_-]+/\d+/)([^/\s\"'?#&,}]+)")


def normalise_key(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def _is_secret(key: str) -> bool:
    norm = normalise_key(key)
    return norm in SECRET_KEYS or norm.endswith(_SECRET_SUFFIXES)


class SecretRegistry:
    """Live secret values: credentials for as long as the process lives, rotating ones
    (tokens) bounded, the least recently registered forgotten first."""

    def __init__(self, max_rotating: int = MAX_REGISTERED) -> None:
        self._lasting: set[str] = set()
        self._rotating: OrderedDict[str, None] = OrderedDict()
        self._max_rotating = max_rotating
        self._pattern: re.Pattern[str] | None = None

    def register(self, value: str | None, *, rotating: bool = False) -> None:
        if not value or len(value) < MIN_SECRET_LENGTH:
            return
        for form in {value, quote(value, safe=""), json.dumps(value)[1:-1]}:
            if form in self._lasting:
                continue
            if not rotating:
                self._rotating.pop(form, None)
                self._lasting.add(form)
                self._pattern = None
            elif form in self._rotating:
                self._rotating.move_to_end(form)
            else:
                self._rotating[form] = None
                self._pattern = None
        while len(self._rotating) > self._max_rotating:
            self._rotating.popitem(last=False)
            self._pattern = None

    def clear(self) -> None:
        self._lasting.clear()
        self._rotating.clear()
        self._pattern = None

    def mask(self, text: str) -> str:
        if not text or not (self._lasting or self._rotating):
            return text
        if self._pattern is None:
            ordered = sorted({*self._lasting, *self._rotating}, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
        return self._pattern.sub(REDACTED, text)


SECRETS = SecretRegistry()


def register_secret(*values: str | None, rotating: bool = False) -> None:
    """Mask each value (and its URL- and JSON-escaped forms) in every text redacted from now on.
    ``rotating`` values (tokens) are kept in a bounded set; the others for good."""
    for value in values:
        SECRETS.register(value, rotating=rotating)


def callback_path_secrets(text: str) -> list[str]:
    """The path secrets of the callback URLs in `text` (to register them)."""
    return [match.group(2) for match in _CALLBACK_PATH.finditer(text)]


def redact_text(text: str) -> str:
    """Masks registered secret values, callback path secrets and header-like credentials."""
    if not text:
        return text
    text = SECRETS.mask(text)
    text = _CALLBACK_PATH.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _HEADERISH.sub(
        lambda m: f"{m.group('key')}{m.group('sep')}{m.group('scheme') or ''}{REDACTED}", text
    )


def _walk(value: Any) -> tuple[Any, bool]:
    if isinstance(value, dict):
        changed = False
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and _is_secret(key) and item is not None:
                out[key] = REDACTED
                changed = True
            else:
                out[key], sub_changed = _walk(item)
                changed = changed or sub_changed
        return out, changed
    if isinstance(value, list):
        items = [_walk(item) for item in value]
        return [item for item, _ in items], any(changed for _, changed in items)
    if isinstance(value, str):
        masked = redact_text(value)
        return masked, masked != value
    return value, False


def redact_value(value: Any) -> Any:
    """`value` (a dict, list or string, as in a log event) with its secrets masked."""
    return _walk(value)[0]


def redact_callback(payload: dict[str, Any]) -> dict[str, Any]:
    """A carrier callback as stored: the listener's username masked (ThingSpace echoes the
    registered credentials in the body), and every secret key and registered value."""
    masked = payload | {"username": REDACTED} if "username" in payload else payload
    out: dict[str, Any] = redact_value(masked)
    return out


def redact_body(text: str) -> str:
    """Return `text` with the values of secret keys, and every registered secret value,
    replaced by "***".

    JSON is parsed and walked (the text is kept byte for byte when nothing is secret);
    a form body is parsed as one; anything else gets a best-effort pattern pass.
    """
    if not text:
        return text
    try:
        parsed = json.loads(text)
    except ValueError:
        pass
    else:
        redacted, changed = _walk(parsed)
        if not changed:
            return text
        return json.dumps(redacted, separators=(",", ":"), ensure_ascii=False)
    if _FORM.fullmatch(text):
        pairs = parse_qsl(text, keep_blank_values=True)
        return urlencode(
            [(k, REDACTED if _is_secret(k) else redact_text(v)) for k, v in pairs], safe="*"
        )

    def _sub(match: re.Match[str]) -> str:
        if _is_secret(match.group("key")):
            return f'{match.group(1)}"{REDACTED}"'
        return match.group(0)

    return redact_text(_JSONISH.sub(_sub, text))
