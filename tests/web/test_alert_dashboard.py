"""The safeguarding lead's alert feed in Chromium, against the running demo.

Alerts are raised the way the platform raises them: a demo device reports typed text that a
built-in rule matches. Each test uses its own learner's device, so no alert merges into another
test's.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import pytest
from playwright.async_api import expect

from tests.waiting import wait_until
from tests.web.conftest import Demo, screenshot, sign_in
from tests.web.live_helpers import report_activity

pytestmark = pytest.mark.e2e
DSL = "dsl@northfield.test"
#: Matched by the built-in bullying rules; a fictional test phrase, not learner data.
BULLYING = "nobody likes you"
#: Detection and the feed are asynchronous; generous on a busy machine.
ALERT_ARRIVES_MS = 30_000


async def open_alerts(page: Any, demo: Demo) -> None:
    await sign_in(page, demo, DSL, r"/alerts")
    await expect(page.get_by_role("heading", name="Safeguarding alerts")).to_be_visible()
    await expect(page.locator("#live-state")).to_have_text("Live")


async def raise_alert(demo: Demo, device: int) -> str:
    """A device of 10X Maths reports bullying text; returns the unique text to look for."""
    marker = uuid.uuid4().hex[:8]
    text = f"{BULLYING} {marker}"
    await asyncio.to_thread(
        report_activity,
        demo,
        demo.device_tokens()[device],
        kind="TYPED_TEXT",
        app="Google Docs",
        text=text,
    )
    return marker


def item(page: Any, marker: str) -> Any:
    return page.locator(".alert-item", has_text=marker)


async def test_an_alert_arrives_is_acknowledged_and_stays_acknowledged(
    page: Any, demo: Demo
) -> None:
    # given the safeguarding lead watching the alert feed
    await open_alerts(page, demo)
    # when a learner types something a safeguarding rule matches
    marker = await raise_alert(demo, device=10)
    # then the alert arrives live, by category, with its excerpt, counted as unread
    arrived = item(page, marker)
    await expect(arrived).to_be_visible(timeout=ALERT_ARRIVES_MS)
    await expect(arrived).to_contain_text("Bullying")
    await expect(arrived).to_contain_text("New")
    await expect(page).to_have_title(re.compile(r"^\(\d+\) Safeguarding alerts"))
    unread = await _unread(page)
    # when they open it and acknowledge it
    await arrived.get_by_role("button").click()
    await expect(page.locator("#detail-title")).to_contain_text("Bullying")
    await expect(page.locator("#detail .evidence")).to_contain_text(marker)
    await page.get_by_role("button", name="Acknowledge").click()
    # then it is acknowledged and one fewer is unread
    await expect(page.locator("#detail-status")).to_have_text("Acknowledged")
    await expect(arrived).to_contain_text("Acknowledged")
    assert await _unread(page) == unread - 1
    await expect(page.locator(".chronology").first).to_contain_text("Acknowledged")
    await screenshot(page, "alerts")
    # and after a reload it is still acknowledged, with its history
    await page.reload()
    await expect(page.locator("#detail-status")).to_have_text("Acknowledged")
    await expect(item(page, marker)).to_contain_text("Acknowledged")
    await expect(page.locator(".chronology").first).to_contain_text("Acknowledged")


async def test_a_lead_assigns_notes_and_resolves_an_alert(page: Any, demo: Demo) -> None:
    # given an alert in the lead's feed
    await open_alerts(page, demo)
    marker = await raise_alert(demo, device=11)
    await expect(item(page, marker)).to_be_visible(timeout=ALERT_ARRIVES_MS)
    await item(page, marker).get_by_role("button").click()
    # when they assign it to themselves and add a note
    await page.get_by_label("Assign to").select_option(label="Dsl (Northfield Academy)")
    await page.get_by_role("button", name="Assign", exact=True).click()
    await expect(page.locator("#detail")).to_contain_text("Assigned to")
    await expect(page.locator("#detail dl")).to_contain_text("Dsl (Northfield Academy)")
    await page.get_by_label(re.compile(r"^Note")).fill("Spoke to the form tutor.")
    await page.get_by_role("button", name="Add note").click()
    await expect(page.locator(".chronology").first).to_contain_text("Spoke to the form tutor.")
    # when they try to resolve it without a reason
    await page.get_by_role("button", name="Resolve").click()
    # then they are asked for one, and nothing changes
    await expect(page.locator("#status")).to_contain_text("Write the note first")
    await expect(page.locator("#detail-status")).not_to_have_text("Resolved")
    # when they resolve it with a reason
    await page.get_by_label(re.compile(r"^Note")).fill("Friendly banter, checked with both.")
    await page.get_by_role("button", name="Resolve").click()
    # then it leaves the open list, and shows as resolved among all alerts
    await expect(page.locator("#detail-status")).to_have_text("Resolved")
    await expect(item(page, marker)).to_have_count(0)
    await page.get_by_label("Show").select_option("all")
    await expect(item(page, marker)).to_contain_text("Resolved")


async def test_a_false_positive_is_marked_with_its_reason(page: Any, demo: Demo) -> None:
    # given an alert in the lead's feed
    await open_alerts(page, demo)
    marker = await raise_alert(demo, device=12)
    await expect(item(page, marker)).to_be_visible(timeout=ALERT_ARRIVES_MS)
    await item(page, marker).get_by_role("button").click()
    # when they mark it as a false positive, with the reason
    await page.get_by_label(re.compile(r"^Note")).fill("Quoting a novel in English.")
    await page.get_by_role("button", name="Mark false positive").click()
    # then it is closed as a false positive, the reason on its history
    await expect(page.locator("#detail-status")).to_have_text("False positive")
    await expect(page.locator(".chronology").first).to_contain_text("Quoting a novel")


async def test_the_feed_resumes_from_its_last_cursor_after_a_reload(page: Any, demo: Demo) -> None:
    # given the lead's feed, which keeps the cursor of the last alert it received
    await open_alerts(page, demo)
    first = await raise_alert(demo, device=13)
    await expect(item(page, first)).to_be_visible(timeout=ALERT_ARRIVES_MS)
    kept = await _stored_cursor(page)
    assert kept
    # when the page is gone while another alert is raised, then comes back
    await page.goto("about:blank")
    missed = await raise_alert(demo, device=14)
    sent: list[dict[str, Any]] = []
    received: list[str] = []

    def watch(socket: Any) -> None:
        socket.on("framesent", lambda frame: sent.append(json.loads(frame)))
        socket.on("framereceived", lambda frame: received.append(frame))

    page.on("websocket", watch)
    await page.goto(f"{demo.url}/alerts")
    # then the feed asks for what came after the kept cursor, and the missed alert is replayed
    await wait_until(lambda: any(f.get("type") == "subscribe" for f in sent), within=30)
    subscribe = next(f for f in sent if f.get("type") == "subscribe")
    assert "alertFeed" in subscribe["payload"]["query"]
    assert subscribe["payload"]["variables"] == {"after": kept}
    await wait_until(lambda: any(missed in frame for frame in received), within=30)
    await expect(item(page, missed)).to_be_visible()
    assert await _stored_cursor(page) != kept


async def _unread(page: Any) -> int:
    text = await page.locator("#unread").text_content()
    found = re.match(r"(\d+) new", text or "")
    return int(found.group(1)) if found else 0


async def _stored_cursor(page: Any) -> str | None:
    cursor: str | None = await page.evaluate(
        """() => Object.keys(localStorage)
            .filter((key) => key.startsWith("pp.alertFeed."))
            .map((key) => localStorage.getItem(key))[0] || null"""
    )
    return cursor
