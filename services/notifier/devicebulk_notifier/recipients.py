"""Who gets the completion email: exactly one address, checked with ``email-validator``.

The requester's own address (``bulk_change.notify_email``, from ``X-User-Email`` or the token)
comes first, then the tenant's ``notification_email``, then ``NOTIFIER_DEFAULT_RECIPIENT``. An
address that is not exactly one valid mailbox of at most 254 characters (``a@x, b@evil`` is not)
is skipped, and why is recorded with the attempt."""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from devicebulk_notifier.report import Target

# RFC 5321's path limit (256) less the angle brackets.
MAX_ADDRESS_CHARS = 254
# How much of a refused address a log line or the audit quotes.
QUOTED_CHARS = 80


@dataclass(frozen=True)
class Candidate:
    address: str
    source: str  # "requester", "tenant", "default"


@dataclass(frozen=True)
class Recipients:
    """The valid candidates in order, and why the ones before the first were skipped."""

    candidates: list[Candidate]
    skipped: list[str]

    def after(self, address: str) -> list[Candidate]:
        """The candidates after ``address`` (an attempt's recipient), other addresses only."""
        for i, candidate in enumerate(self.candidates):
            if candidate.address == address:
                return [c for c in self.candidates[i + 1 :] if c.address != address]
        return []


def quote(value: str) -> str:
    """A short, printable rendering of an address we will not use."""
    shown = "".join(ch if ch.isprintable() else "?" for ch in value[:QUOTED_CHARS])
    return repr(shown + ("…" if len(value) > QUOTED_CHARS else ""))


# Reserved names email-validator refuses (RFC 6761) that a private mail server may serve: the
# local stack's ``devicebulk.local`` and ``localhost``, tests' ``example.test``. If the server
# does not serve them it refuses them (5xx) and the email falls back to the next address.
PRIVATE_TLDS = ("local", "localhost", "test")


def _private_stand_in(domain: str) -> str | None:
    """The domain with its reserved top-level label replaced by ``com`` (to check the rest of
    its syntax), or None for a domain under no private top-level name."""
    head, _, tld = domain.lower().rpartition(".")
    if tld not in PRIVATE_TLDS:
        return None
    if head:
        return f"{head}.com"
    return f"{tld}.com" if domain.lower() == tld else domain  # ".local" stays invalid


def check_address(raw: str) -> str:
    """The address in the form to send to (ASCII where it can be); ``ValueError`` if it is not
    exactly one valid mailbox of at most 254 characters."""
    value = raw.strip()
    if len(value) > MAX_ADDRESS_CHARS:
        raise ValueError(f"longer than {MAX_ADDRESS_CHARS} characters")
    local, _, domain = value.rpartition("@")
    stand_in = _private_stand_in(domain)
    try:
        checked = validate_email(
            value if stand_in is None else f"{local}@{stand_in}",
            check_deliverability=False,
            allow_smtputf8=True,
        )
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    if stand_in is None:
        address = checked.ascii_email or checked.normalized
    else:
        address = f"{checked.local_part}@{domain.lower()}"
    if len(address) > MAX_ADDRESS_CHARS:  # an IDNA domain can grow
        raise ValueError(f"longer than {MAX_ADDRESS_CHARS} characters")
    return address


def choose_recipients(target: Target, default: str | None) -> Recipients:
    candidates: list[Candidate] = []
    skipped: list[str] = []
    sources = (
        ("requester", target.bulk_change.notify_email),
        ("tenant", target.tenant_email),
        ("default", default),
    )
    for source, raw in sources:
        if not raw or not raw.strip():
            continue
        try:
            address = check_address(raw)
        except ValueError as exc:
            skipped.append(f"{source} address {quote(raw)} is not one valid address: {exc}")
            continue
        if all(c.address != address for c in candidates):
            candidates.append(Candidate(address=address, source=source))
    return Recipients(candidates=candidates, skipped=skipped)
