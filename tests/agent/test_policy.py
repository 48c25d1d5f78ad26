"""Local policy checks mirror the server's: domains, URL prefixes, apps, modes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agent.policy import LocalPolicy, Verdict

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def policy(**fields: object) -> LocalPolicy:
    return LocalPolicy.from_payload({"version": "7", **fields})


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://youtube.com/", False),
        ("https://www.youtube.com/watch?v=1", False),
        ("HTTPS://M.YouTube.COM:443/x", False),
        ("https://notyoutube.com/", True),
        ("https://youtube.com.example.org/", True),
        ("https://docs.google.com/forms/d/abc", False),
        ("https://docs.google.com/document/d/abc", True),
        ("HTTPS://DOCS.GOOGLE.COM/forms/d/abc", False),
        ("https://docs.google.com/Forms/d/abc", True),  # the path keeps its case
    ],
)
def test_block_rules_match_subdomains_and_prefixes(url: str, allowed: bool) -> None:
    rules = policy(
        blockDomains=["YouTube.com"], blockUrlPrefixes=["https://docs.google.com/forms/"]
    )
    assert rules.check(url=url, now=NOW).allowed is allowed


def test_apps_match_case_insensitively() -> None:
    rules = policy(blockApps=["Roblox"])
    assert rules.check(app="  ROBLOX ", now=NOW) == Verdict(False, "blocked: roblox")
    assert rules.check(app="Calculator", now=NOW).allowed


def test_allow_only_lets_through_only_allowed_pages_and_apps() -> None:
    rules = policy(mode="ALLOW_ONLY", allowDomains=["bbc.co.uk"], allowApps=["Calculator"])
    assert rules.check(url="https://www.bbc.co.uk/bitesize", now=NOW).allowed
    assert not rules.check(url="https://www.mathsisfun.com/", now=NOW).allowed
    assert rules.check(app="calculator", now=NOW).allowed
    assert not rules.check(app="Spotify", now=NOW).allowed
    # A page is judged by its URL, not by the browser that shows it.
    assert not rules.check(url="https://www.tiktok.com/", app="Calculator", now=NOW).allowed


def test_block_lists_win_over_allow_lists() -> None:
    rules = policy(mode="ALLOW_ONLY", allowDomains=["google.com"], blockDomains=["mail.google.com"])
    assert rules.check(url="https://docs.google.com/", now=NOW).allowed
    assert not rules.check(url="https://mail.google.com/", now=NOW).allowed


def test_allow_only_lapses_when_the_lesson_ends_but_blocks_stay() -> None:
    ends = (NOW - timedelta(minutes=1)).isoformat()
    rules = policy(mode="ALLOW_ONLY", lessonEndsAt=ends, blockDomains=["tiktok.com"])
    assert rules.check(url="https://www.mathsisfun.com/", now=NOW).allowed
    assert not rules.check(url="https://www.tiktok.com/", now=NOW).allowed


def test_no_policy_allows_everything() -> None:
    assert LocalPolicy.from_payload(None).check(url="https://www.tiktok.com/", app="X").allowed
    assert LocalPolicy().version is None


@pytest.mark.parametrize("bad", [{"mode": "SOMETIMES"}, {"blockDomains": "youtube.com"}])
def test_malformed_policies_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"policy|mode"):
        LocalPolicy.from_payload(bad)
