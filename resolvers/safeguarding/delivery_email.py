"""Alert emails over SMTP: who, when and how serious, and a link. Never the evidence.

Email is not encrypted end to end, so a message carries only what CPOMS-style notices carry:
the category, the severity, the time, the learner's initials and a link to the dashboard,
which asks the reader to sign in. The excerpt, URL, page title and notes stay on the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

# Sending is generic (resolvers.mail); both names stay importable from here for the deliveries.
from resolvers.mail import DeliveryError, send_email


@dataclass(frozen=True, slots=True)
class AlertNotice:
    """Everything an outgoing message may say about an alert: nothing from the evidence."""

    alert_ref: str
    category: str
    severity: int
    at: datetime
    initials: str
    year_group: int | None
    link: str
    school_name: str
    escalation_step: int = 0


def category_label(category: str) -> str:
    return category.replace("_", " ").capitalize()


def compose(notice: AlertNotice, sender: str, to: str, *, sent_at: datetime) -> EmailMessage:
    message = EmailMessage()
    # The subject shows in notifications on lock screens: no category, no initials.
    subject = "Safeguarding alert to review"
    if notice.escalation_step:
        subject += " (escalated: not yet acknowledged)"
    message["Subject"] = f"{subject} - {notice.school_name}"
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = make_msgid(domain="pupil-progress.invalid")
    year = "Reception" if notice.year_group == 0 else f"Year {notice.year_group}"
    lines = [
        "A safeguarding alert needs review.",
        "",
        f"Category: {category_label(notice.category)}",
        f"Severity: {notice.severity} of 5",
        f"Time: {notice.at.strftime('%d %b %Y %H:%M %Z')}",
        f"Learner: {notice.initials}" + (f" ({year})" if notice.year_group is not None else ""),
        f"Reference: {notice.alert_ref}",
    ]
    if notice.escalation_step:
        lines.append("This alert was escalated to you because nobody acknowledged it in time.")
    lines += [
        "",
        f"Review it after signing in: {notice.link}",
        "",
        "The evidence is only shown in Pupil Progress: please do not forward this email.",
    ]
    message.set_content("\n".join(lines))
    return message


__all__ = ["AlertNotice", "DeliveryError", "category_label", "compose", "send_email"]
