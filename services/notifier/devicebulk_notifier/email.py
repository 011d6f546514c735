"""Renders the completion email: subject, a plain-text and an HTML part (everything escaped),
and the per-device results as a CSV attachment."""

from __future__ import annotations

import html
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from devicebulk_common.contracts import BulkChangeStatus, DeviceChangeStatus
from devicebulk_notifier.report import FailedDevice, Report

# A carrier's error text can be long; the body shows this much of it, the CSV all of it.
REASON_MAX_CHARS = 300


def new_message_id(mail_from: str) -> str:
    """A Message-ID in the sender's domain (``<...@domain>``)."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or None
    return make_msgid(domain=domain)


def attachment_name(report: Report) -> str:
    return f"bulk-change-{report.bulk_change_id}.csv"


def subject(report: Report) -> str:
    head = f"Bulk change {report.bulk_change_id} ({_one_line(report.change)})"
    if report.status == BulkChangeStatus.ERROR:
        return f"{head} could not run"
    parts = [f"{report.succeeded} succeeded", f"{report.failed_total} failed"]
    if report.cancelled:
        parts.append(f"{report.cancelled} cancelled")
    if report.unfinished:
        parts.append(f"{report.unfinished} unfinished")
    return f"{head} processed: {', '.join(parts)}"


def build_message(
    report: Report, csv_data: bytes, *, mail_from: str, recipient: str, message_id: str
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject(report)
    message["From"] = mail_from
    message["To"] = recipient
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(render_text(report), cte="quoted-printable")
    message.add_alternative(render_html(report), subtype="html", cte="quoted-printable")
    message.add_attachment(
        csv_data,
        maintype="text",
        subtype="csv",
        filename=attachment_name(report),
        params={"charset": "utf-8"},
    )
    return message


# ---- plain text ---------------------------------------------------------------------------------


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def _reason(device: FailedDevice) -> str:
    code = _one_line(device.error_code or "")
    reason = _one_line(device.reason or "")
    if len(reason) > REASON_MAX_CHARS:
        reason = reason[: REASON_MAX_CHARS - 1] + "…"
    if device.status == DeviceChangeStatus.VALIDATION_FAILED:
        code = code or "validation failed"
    return ": ".join(part for part in (code, reason) if part) or "no reason recorded"


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


def _summary(report: Report) -> list[tuple[str, str]]:
    rows = [
        ("Bulk change", str(report.bulk_change_id)),
        ("Change", _one_line(report.change)),
        ("Service provider", str(report.service_provider_id)),
        ("Requested by", _one_line(report.created_by or "-")),
        ("Requested at", _when(report.created_at)),
        ("Processed at", _when(report.processed_at)),
        ("Status", report.status),
    ]
    if report.error_reason:
        rows.append(("Error", _one_line(report.error_reason)))
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


def _more_line(report: Report) -> str | None:
    if not report.failed_not_listed:
        return None
    return (
        f"... and {report.failed_not_listed} more failed devices, listed in the attached "
        f"{attachment_name(report)}."
    )


def render_text(report: Report) -> str:
    summary = _summary(report)
    width = max(len(label) for label, _ in summary) + 2
    lines = [f"{label + ':':<{width}}{value}" for label, value in summary]
    lines += ["", "Device changes by status:"]
    lines += [f"  {status:<18}{n}" for status, n in sorted(report.counts.items())]
    if report.failed:
        lines += ["", f"Failed devices ({report.failed_total}):"]
        lines += [f"  {d.iccid} [{d.status}] {_reason(d)}" for d in report.failed]
    more = _more_line(report)
    if more:
        lines.append(more)
    lines += [
        "",
        f"Every device's result is in the attached {attachment_name(report)}.",
        "",
        "This message was sent automatically by devicebulk.",
    ]
    return "\n".join(lines) + "\n"


# ---- HTML ----------------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def render_html(report: Report) -> str:
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
    more = _more_line(report)
    if more:
        parts.append(f"<p>{_e(more)}</p>")
    parts += [
        f"<p>Every device's result is in the attached {_e(attachment_name(report))}.</p>",
        "<p><small>This message was sent automatically by devicebulk.</small></p>",
        "</body></html>",
    ]
    return "\n".join(parts)
