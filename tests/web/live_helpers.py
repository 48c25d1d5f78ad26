"""What the browser tests do besides clicking: report a device's activity, read what devices
acknowledged, and remember every text a tile showed."""

from __future__ import annotations

import json
import sqlite3
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any

from tests.web.conftest import Demo

REPORT = """mutation Report($input: ReportActivityInput!) {
  reportActivity(input: $input) { results { status blocked } errors { code message } }
}"""

#: Installed into the page by the test (not shipped): records every tile text ever rendered,
#: so a change is seen even if a simulated device overwrites it a moment later.
RECORD_TILE_TEXTS = """() => {
  window.__tileTexts = [];
  const tiles = document.getElementById("tiles");
  const record = () => window.__tileTexts.push(tiles.innerText);
  const changes = {subtree: true, childList: true, characterData: true};
  new MutationObserver(record).observe(tiles, changes);
}"""
TILE_TEXT_SEEN = "(wanted) => window.__tileTexts.some((text) => text.includes(wanted))"


def report_activity(demo: Demo, token: str, **event: Any) -> dict[str, Any]:
    """One activity event from a demo device, as its agent would send it; returns the result."""
    payload = {
        "eventId": str(uuid.uuid4()),
        "occurredAt": datetime.now(UTC).isoformat(),
        **event,
    }
    answer = demo.post(REPORT, token, input={"events": [payload]})
    assert "errors" not in answer, answer
    result: dict[str, Any] = answer["data"]["reportActivity"]
    assert result["errors"] == [], result
    assert result["results"][0]["status"] == "ACCEPTED", result
    return result


def acknowledged_commands(demo: Demo, kind: str, since_id: int) -> int:
    """How many commands of this kind, newer than ``since_id``, devices have confirmed."""
    with sqlite3.connect(demo.database) as db:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM device_command WHERE kind = ? AND id > ? "
            "AND acknowledged_at IS NOT NULL",
            (kind, since_id),
        ).fetchone()
    return int(count)


def sign_out_elsewhere(demo: Demo, sid: str) -> None:
    """``logout`` with a browser's session cookie, as another tab of the same browser would."""
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{demo.url}/graphql",
        data=json.dumps({"query": "mutation { logout }"}).encode(),
        headers={"content-type": "application/json", "cookie": f"sid={sid}"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        assert json.load(response) == {"data": {"logout": True}}


def last_command_id(demo: Demo) -> int:
    with sqlite3.connect(demo.database) as db:
        (value,) = db.execute("SELECT COALESCE(MAX(id), 0) FROM device_command").fetchone()
    return int(value)


__all__ = [
    "RECORD_TILE_TEXTS",
    "TILE_TEXT_SEEN",
    "acknowledged_commands",
    "last_command_id",
    "report_activity",
    "sign_out_elsewhere",
]
