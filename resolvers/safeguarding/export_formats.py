"""The export documents: CSV one incident per row, safe to open in a spreadsheet, and JSON.

CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return) are prefixed with ``'`` (OWASP, CSV injection): a pupil can type such
text, and the DSL's spreadsheet must never run it. JSON keeps every text exactly.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from models.schools import School

FORMAT_NAME = "pupil-progress.safeguarding-export"
FORMAT_VERSION = 1
COLUMNS = (
    "Incident reference",
    "Incident date/time",
    "Category",
    "Severity",
    "Learner name",
    "Year group",
    "Description",
    "Evidence URL",
    "Page title",
    "App",
    "Source",
    "Occurrences",
    "Actions taken",
    "Status",
    "Outcome",
    "Assigned to",
    "Raised by",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def _action_line(action: dict[str, Any]) -> str:
    line = f"{action['at']} - {action['by']} - {action['action']}"
    if action["toStatus"] and action["toStatus"] != action["fromStatus"]:
        line += f" ({action['fromStatus'] or '-'} to {action['toStatus']})"
    if action["toSeverity"] is not None:
        line += f" (severity {action['fromSeverity']} to {action['toSeverity']})"
    if action["note"]:
        line += f": {action['note']}"
    return line


def to_csv(incidents: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for i in incidents:
        row = [
            i["reference"],
            i["incidentAt"],
            i["categoryLabel"],
            i["severity"],
            i["learner"]["name"],
            i["learner"]["yearGroup"],
            i["description"],
            i["evidence"]["url"],
            i["evidence"]["title"],
            i["evidence"]["app"],
            i["source"],
            i["occurrences"],
            "\n".join(_action_line(a) for a in i["actions"]),
            i["status"],
            i["outcome"],
            i["assignedTo"],
            i["raisedBy"],
        ]
        writer.writerow([neutralise("" if v is None else str(v)) for v in row])
    return out.getvalue()


def to_json(
    incidents: Sequence[dict[str, Any]], school: School, exported_at: datetime, **extra: Any
) -> str:
    document = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "exportedAt": exported_at.isoformat(),
        "school": school.name,
        **extra,
        "incidents": list(incidents),
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


__all__ = ["COLUMNS", "FORMAT_NAME", "FORMAT_VERSION", "neutralise", "to_csv", "to_json"]
