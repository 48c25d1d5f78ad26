"""The admin pages and the parts every dashboard shares: sign-in, keyboard use, visible focus."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from playwright.async_api import expect

from tests.web.conftest import Demo, screenshot, sign_in
from tests.web.live_helpers import sign_out_elsewhere

pytestmark = pytest.mark.e2e
ADMIN = "admin@northfield.test"


async def test_an_admin_enrols_a_device_and_sees_its_token_only_once(page: Any, demo: Demo) -> None:
    # given the school admin on the devices section
    await sign_in(page, demo, ADMIN, r"/admin")
    await page.get_by_role("tab", name="Devices").click()
    await expect(page.get_by_role("heading", name="Devices")).to_be_visible()
    # when they enrol a shared device
    await page.get_by_label("Device name").fill("Library laptop 7")
    await page.get_by_label("Platform").select_option("WINDOWS")
    await page.get_by_role("button", name="Enrol device").click()
    # then its token is shown, once, with a warning, and the device is listed
    secret = page.locator("#secret")
    await expect(secret).to_have_text(re.compile(r"^ppd_\S{20,}$"))
    await expect(page.get_by_text("shown only this once")).to_be_visible()
    token = await secret.text_content()
    row = page.locator("tr", has_text="Library laptop 7")
    await expect(row).to_contain_text("Shared")
    await screenshot(page, "admin")
    # and after a reload only its first characters remain
    await page.reload()
    await expect(page.locator("tr", has_text="Library laptop 7")).to_be_visible()
    assert token
    assert token not in await page.content()


async def test_an_admin_adds_staff_and_a_partner_key(page: Any, demo: Demo) -> None:
    # given the school admin
    await sign_in(page, demo, ADMIN, r"/admin")
    # when they add a teacher
    await page.get_by_role("tab", name="Staff").click()
    await page.get_by_label("Name").fill("Ms Rivera")
    await page.get_by_label("Email").fill("rivera@northfield.test")
    await page.get_by_label("Password").fill("correct horse battery staple 7")
    await page.get_by_role("checkbox", name="teacher", exact=True).check()
    await page.get_by_role("button", name="Add staff").click()
    # then she is listed with her role
    await expect(page.locator("tr", has_text="rivera@northfield.test")).to_contain_text("teacher")
    # when they create a partner key that reads groups
    await page.get_by_role("tab", name="API keys").click()
    await page.get_by_role("textbox", name="Partner").fill("Trust analytics")
    await page.get_by_label("groups read").check()
    await page.get_by_role("button", name="Create key").click()
    # then the key is shown once and the grant is listed
    await expect(page.locator("#secret")).to_have_text(re.compile(r"^\S{20,}$"))
    await expect(page.locator("tr", has_text="Trust analytics")).to_contain_text("GROUPS_READ")


async def test_what_is_typed_survives_a_second_click_on_the_open_tab(page: Any, demo: Demo) -> None:
    # given the admin typing a colleague's name into the open staff tab
    await sign_in(page, demo, ADMIN, r"/admin")
    await expect(page.get_by_label("Name")).to_be_visible()
    await page.get_by_label("Name").fill("Third Teacher")
    # when they click the tab again
    await page.get_by_role("tab", name="Staff").click()
    # then the form is the same and keeps what they typed
    await expect(page.get_by_label("Name")).to_have_value("Third Teacher")


async def test_bad_input_is_explained_and_nothing_is_lost(page: Any, demo: Demo) -> None:
    # given the admin adding a member of staff with an address already in use
    await sign_in(page, demo, ADMIN, r"/admin")
    await page.get_by_role("tab", name="Staff").click()
    await page.get_by_label("Name").fill("Second Teacher")
    await page.get_by_label("Email").fill("teacher@northfield.test")
    await page.get_by_label("Password").fill("correct horse battery staple 8")
    await page.get_by_role("checkbox", name="leader", exact=True).check()
    await page.get_by_role("button", name="Add staff").click()
    # then the server's reason is shown, and what they typed is still there
    await expect(page.locator("#status")).to_have_attribute("data-kind", "error")
    await expect(page.locator("#status")).to_contain_text("already exists")
    await expect(page.get_by_label("Name")).to_have_value("Second Teacher")
    await expect(page.locator("tr", has_text="Second Teacher")).to_have_count(0)


async def test_an_expired_session_is_noticed_on_the_next_request(page: Any, demo: Demo) -> None:
    # given the admin on a page without a live connection
    await sign_in(page, demo, ADMIN, r"/admin")
    await expect(page.get_by_role("heading", name="Staff")).to_be_visible()
    cookie = next(c for c in await page.context.cookies() if c["name"] == "sid")
    # when the session ends elsewhere and they carry on
    await asyncio.to_thread(sign_out_elsewhere, demo, cookie["value"])
    await page.get_by_role("tab", name="Groups").click()
    # then the API's UNAUTHENTICATED sends them to sign in, told why, to come back here
    await expect(page).to_have_url(re.compile(r"/login\?reason=expired&next=%2Fadmin"))
    await expect(page.locator("#notice")).to_have_text(re.compile("session has expired"))


async def test_sign_in_works_from_the_keyboard_with_visible_focus(page: Any, demo: Demo) -> None:
    # given the sign-in page
    await page.goto(f"{demo.url}/login")
    await expect(page.get_by_role("button", name="Sign in")).to_be_enabled()
    # when a keyboard user arrives, the email field has focus, the skip link just before it
    email = page.get_by_label("Email")
    await expect(email).to_be_focused()
    await page.keyboard.press("Shift+Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(email).to_be_focused()
    outline = await email.evaluate("(el) => getComputedStyle(el).outlineStyle")
    # then focus is visible
    assert outline != "none"
    await page.keyboard.type("teacher@northfield.test")
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Password")).to_be_focused()
    await page.keyboard.type("demo-password")
    await page.keyboard.press("Enter")
    # and they are signed in
    await expect(page).to_have_url(re.compile(r"/classroom"))


async def test_a_wrong_password_is_refused_with_a_message(page: Any, demo: Demo) -> None:
    await page.goto(f"{demo.url}/login")
    await page.get_by_label("Email").fill("teacher@northfield.test")
    await page.get_by_label("Password").fill("not-the-password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#problem")).to_be_visible()
    await expect(page.locator("#problem")).to_be_focused()
    await expect(page).to_have_url(re.compile(r"/login"))


async def test_a_signed_out_visitor_is_sent_to_sign_in_from_any_dashboard(
    page: Any, demo: Demo
) -> None:
    for path in ("/classroom", "/alerts", "/admin"):
        await page.goto(f"{demo.url}{path}")
        await expect(page).to_have_url(re.compile(rf"/login\?reason=signin&next=%2F{path[1:]}"))


async def test_signing_out_ends_the_session(page: Any, demo: Demo) -> None:
    # given a signed-in teacher
    await sign_in(page, demo, "teacher@northfield.test", r"/classroom")
    # when they sign out
    await page.get_by_role("button", name="Sign out").click()
    # then they are back at sign-in, told so, and the dashboards ask them to sign in again
    await expect(page.locator("#notice")).to_have_text("You have signed out.")
    assert not [c for c in await page.context.cookies() if c["value"]]
    await page.goto(f"{demo.url}/classroom")
    await expect(page).to_have_url(re.compile(r"/login"))


async def test_the_classroom_fits_a_projector_and_a_small_laptop(page: Any, demo: Demo) -> None:
    # given the teacher's classroom on a 1080p projector
    await page.set_viewport_size({"width": 1920, "height": 1080})
    await sign_in(page, demo, "teacher@northfield.test", r"/classroom")
    await expect(page.locator("#tiles > li")).to_have_count(28)
    # then nothing scrolls sideways, and type is larger than on a laptop
    assert await page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
    big = await page.evaluate(
        "() => parseFloat(getComputedStyle(document.documentElement).fontSize)"
    )
    await screenshot(page, "classroom-projector")
    # when the same page is on a small laptop
    await page.set_viewport_size({"width": 1024, "height": 640})
    small = await page.evaluate(
        "() => parseFloat(getComputedStyle(document.documentElement).fontSize)"
    )
    assert await page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
    assert big > small


def test_the_demo_prints_the_dashboards_address(demo: Demo) -> None:
    # a school's first look: the address `make demo` prints opens the dashboards
    log = (demo.data_dir / "demo.log").read_text(errors="replace")
    assert f"Pupil Progress demo: {demo.url}/ " in log
