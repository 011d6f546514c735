"""Redaction of secrets from HTTP bodies before they are kept as audit records."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

REDACTED = "***"

SECRET_KEYS: frozenset[str] = frozenset(
    {"password", "username", "access_token", "refresh_token", "sessiontoken", "client_secret"}
)

_FORM = re.compile(r"[\w.~%+-]+=[^&\s]*(?:&[\w.~%+-]+=[^&\s]*)*")
_JSONISH = re.compile(
    r'("(?P<key>[A-Za-z_]+)"\s*:\s*)("(?:[^"\\]|\\.)*"|[^,}\]\s]+)',
)


def _is_secret(key: str) -> bool:
    return key.lower() in SECRET_KEYS


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
    return value, False


def redact_body(text: str) -> str:
    """Return `text` with the values of secret keys replaced by "***".

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
        return json.dumps(redacted, separators=(",", ":"), ensure_ascii=False) if changed else text
    if _FORM.fullmatch(text):
        pairs = parse_qsl(text, keep_blank_values=True)
        return urlencode([(k, REDACTED if _is_secret(k) else v) for k, v in pairs], safe="*")

    def _sub(match: re.Match[str]) -> str:
        if _is_secret(match.group("key")):
            return f'{match.group(1)}"{REDACTED}"'
        return match.group(0)

    return _JSONISH.sub(_sub, text)
