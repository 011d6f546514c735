"""Renders the completion email: subject, a plain-text and an HTML part (everything escaped),
and the per-device results (a CSV attachment, compressed, or a link: :mod:`.results`).

Text that came from a user or a carrier is quoted on one line, printable, and truncated: a
1,000,000-character username is 100 characters in the subject and 300 in the body."""

from __future__ import annotations

import html
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from devicebulk_common.contracts import BulkChangeStatus, DeviceChangeStatus
from devicebulk_notifier.report import FailedDevice, Report
from devicebulk_notifier.results import Results

# A carrier's error text or a user's value can be long; the body shows this much of it, the
# CSV (a carrier's text) all of it.
REASON_MAX_CHARS = 300
# The subject quotes the change (which can hold a user's text) this far; the whole subject stays
# well inside one header line's sensible length.
SUBJECT_CHANGE_CHARS = 100


def new_message_id(mail_from: str) -> str:
    """A Message-ID in the sender's domain (``<...@domain>``)."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or None
    return make_msgid(domain=domain)


def subject(report: Report) -> str:
    head = f"Bulk change {report.bulk_change_id} ({_clip(report.change, SUBJECT_CHANGE_CHARS)})"
    if report.status == BulkChangeStatus.ERROR:
        return f"{head} could not run"
    parts = [f"{report.succeeded} succeeded", f"{report.failed_total} failed"]
    if report.cancelled:
        parts.append(f"{report.cancelled} cancelled")
    if report.unfinished:
        parts.append(f"{report.unfinished} unfinished")
    return f"{head} processed: {', '.join(parts)}"


def build_message(
    report: Report, results: Results, *, mail_from: str, recipient: str, message_id: str
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject(report)
    message["From"] = mail_from
    message["To"] = recipient
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(render_text(report, results), cte="quoted-printable")
    message.add_alternative(render_html(report, results), subtype="html", cte="quoted-printable")
    if results.kind == "csv":
        message.add_attachment(
            results.data,
            maintype="text",
            subtype="csv",
            filename=results.filename,
            params={"charset": "utf-8"},
        )
    elif results.kind == "gzip":
        message.add_attachment(
            results.data, maintype="application", subtype="gzip", filename=results.filename
        )
    return message


# ---- plain text ---------------------------------------------------------------------------------


def _clip(value: object, limit: int = REASON_MAX_CHARS) -> str:
    """One line of printable text (whitespace runs become one space, other controls a '?'),
    cut to ``limit`` characters (an ellipsis says it was)."""
    text = " ".join(str(value)[: limit * 4].split())  # never split a huge value whole
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _results_sentence(results: Results) -> str:
    if results.kind == "csv":
        return f"Every device's result is in the attached {results.filename}."
    if results.kind == "gzip":
        return f"Every device's result is in the attached {results.filename} (gzip-compressed CSV)."
    return (
        f"The per-device results ({results.csv_bytes} bytes of CSV) are too large to attach; "
        f"they are at {results.link}"
    )


def _reason(device: FailedDevice) -> str:
    code = _clip(device.error_code or "")
    reason = _clip(device.reason or "")
    if device.status == DeviceChangeStatus.VALIDATION_FAILED:
        code = code or "validation failed"
    return ": ".join(part for part in (code, reason) if part) or "no reason recorded"


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


def _summary(report: Report) -> list[tuple[str, str]]:
    rows = [
        ("Bulk change", str(report.bulk_change_id)),
        ("Change", _clip(report.change)),
        ("Service provider", str(report.service_provider_id)),
        ("Requested by", _clip(report.created_by or "-")),
        ("Requested at", _when(report.created_at)),
        ("Processed at", _when(report.processed_at)),
        ("Status", report.status),
    ]
    if report.error_reason:
        rows.append(("Error", _clip(report.error_reason)))
    rows += [
        ("Devices", str(report.device_count)),
        ("Succeeded", str(report.succeeded)),
        ("Failed", str(report.failed_total)),
    ]
    if report.validation_failed:
        rows.append(("  of which failed validation", str(report.validation_failed)))
    if report.cancelled:
        rows.append(("Cancelled", str(report.cancelled)))
    if report.unfinished:
        rows.append(("Unfinished", str(report.unfinished)))
    return rows


def _more_line(report: Report, results: Results) -> str | None:
    if not report.failed_not_listed:
        return None
    where = (
        f"at {results.link}" if results.kind == "link" else f"in the attached {results.filename}"
    )
    return f"... and {report.failed_not_listed} more failed devices, listed {where}."


def render_text(report: Report, results: Results) -> str:
    summary = _summary(report)
    width = max(len(label) for label, _ in summary) + 2
    lines = [f"{label + ':':<{width}}{value}" for label, value in summary]
    lines += ["", "Device changes by status:"]
    lines += [f"  {status:<18}{n}" for status, n in sorted(report.counts.items())]
    if report.failed:
        lines += ["", f"Failed devices ({report.failed_total}):"]
        lines += [f"  {d.iccid} [{d.status}] {_reason(d)}" for d in report.failed]
    more = _more_line(report, results)
    if more:
        lines.append(more)
    lines += [
        "",
        _results_sentence(results),
        "",
        "This message was sent automatically by devicebulk.",
    ]
    return "\n".join(lines) + "\n"


# ---- HTML ----------------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def render_html(report: Report, results: Results) -> str:
    summary = "".join(
        f"<tr><th align='left'>{_e(label.strip())}</th><td>{_e(value)}</td></tr>"
        for label, value in _summary(report)
    )
    by_status = "".join(
        f"<tr><td>{_e(status)}</td><td align='right'>{n}</td></tr>"
        for status, n in sorted(report.counts.items())
    )
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{_e(subject(report))}</title></head><body>",
        f"<h2>{_e(subject(report))}</h2>",
        f"<table>{summary}</table>",
        "<h3>Device changes by status</h3>",
        f"<table><tr><th>Status</th><th>Devices</th></tr>{by_status}</table>",
    ]
    if report.failed:
        rows = "".join(
            f"<tr><td>{_e(d.iccid)}</td><td>{_e(d.status)}</td><td>{_e(_reason(d))}</td></tr>"
            for d in report.failed
        )
        parts += [
            f"<h3>Failed devices ({report.failed_total})</h3>",
            f"<table><tr><th>ICCID</th><th>Status</th><th>Reason</th></tr>{rows}</table>",
        ]
    more = _more_line(report, results)
    if more:
        parts.append(f"<p>{_e(more)}</p>")
    parts += [
        f"<p>{_e(_results_sentence(results))}</p>",
        "<p><small>This message was sent automatically by devicebulk.</small></p>",
        "</body></html>",
    ]
    return "\n".join(parts)
