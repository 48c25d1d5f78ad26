"""The access-policy engine: matching, modes, the school's locked list, normalisation, versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.errors import InvalidInput
from models.classroom import LessonMode, RuleKind
from resolvers.policy import (
    Policy,
    Verdict,
    effective_policy,
    judge,
    normalise_app,
    normalise_domain,
    normalise_url,
    validated_rules,
)

ENDS_AT = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
NO_SCHOOL_RULES: list[tuple[str, str]] = []


def lesson(
    mode: LessonMode,
    *,
    allow: dict[Any, list[str]] | None = None,
    block: dict[Any, list[str]] | None = None,
    school: list[tuple[str, str]] | None = None,
    lesson_id: int = 1,
    ends_at: datetime = ENDS_AT,
) -> Policy:
    return effective_policy(
        school or NO_SCHOOL_RULES,
        mode,
        {"allow": allow or {}, "block": block or {}},
        lesson_id=lesson_id,
        ends_at=ends_at,
    )


# --- domains and subdomains -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "blocked"),
    [
        ("https://youtube.com/", True),
        ("https://www.youtube.com/watch?v=1", True),
        ("https://m.www.youtube.com/", True),
        ("HTTPS://WWW.YOUTUBE.COM:443/Watch", True),
        ("http://youtube.com:8080/", True),
        ("https://youtube.com./", True),
        ("https://notyoutube.com/", False),
        ("https://youtube.com.example.org/", False),
        ("https://example.org/youtube.com", False),
        ("https://youtube.com@example.org/", False),  # the host is example.org
        ("https://example.org@youtube.com/", True),
    ],
)
def test_a_blocked_domain_covers_its_subdomains_and_nothing_else(url: str, blocked: bool) -> None:
    # given
    policy = lesson(LessonMode.BLOCK_LIST, block={RuleKind.DOMAIN: ["YouTube.com"]})
    # when
    verdict = judge(policy, "URL_VISIT", url=url)
    # then
    assert verdict.blocked is blocked
    if blocked:
        assert verdict.reason == "lesson rule: youtube.com"


def test_a_subdomain_rule_does_not_cover_its_parent_or_siblings() -> None:
    # given
    policy = lesson(LessonMode.BLOCK_LIST, block={RuleKind.DOMAIN: ["games.example.com"]})
    # when / then
    assert judge(policy, "URL_VISIT", url="https://games.example.com/x").blocked
    assert judge(policy, "URL_VISIT", url="https://a.games.example.com/x").blocked
    assert not judge(policy, "URL_VISIT", url="https://example.com/x").blocked
    assert not judge(policy, "URL_VISIT", url="https://docs.example.com/x").blocked


# --- URL prefixes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "blocked"),
    [
        ("https://docs.google.com/forms/d/abc", True),
        ("HTTPS://DOCS.GOOGLE.COM/forms/d/abc", True),
        ("https://docs.google.com:443/forms/d/abc", True),
        ("https://docs.google.com/forms/", True),
        ("https://docs.google.com/forms", False),  # shorter than the prefix
        ("https://docs.google.com/Forms/d/abc", False),  # the path keeps its case
        ("https://docs.google.com/document/d/abc", False),
        ("https://docs.google.com.evil.example/forms/d/abc", False),
    ],
)
def test_url_prefixes_match_after_normalising_scheme_host_and_port(url: str, blocked: bool) -> None:
    # given
    policy = lesson(
        LessonMode.BLOCK_LIST, block={RuleKind.URL_PREFIX: ["https://Docs.Google.com/forms/"]}
    )
    # when
    verdict = judge(policy, "URL_VISIT", url=url)
    # then
    assert verdict.blocked is blocked


def test_a_prefix_naming_only_a_host_does_not_match_a_longer_host() -> None:
    # given: "https://example.com" means the site, not every host starting with that text
    policy = lesson(LessonMode.BLOCK_LIST, block={RuleKind.URL_PREFIX: ["https://example.com"]})
    # when / then
    assert judge(policy, "URL_VISIT", url="https://example.com/anything").blocked
    assert not judge(policy, "URL_VISIT", url="https://example.com.evil.example/").blocked
    assert not judge(policy, "URL_VISIT", url="https://example.community/").blocked


# --- applications -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "app", ["Minecraft", "MINECRAFT", "minecraft", "  Minecraft ", "MineCraft"]
)
def test_apps_match_case_insensitively(app: str) -> None:
    # given
    policy = lesson(LessonMode.BLOCK_LIST, block={RuleKind.APP: ["Minecraft"]})
    # when
    verdict = judge(policy, "APP_FOCUS", app=app)
    # then
    assert verdict == Verdict(True, "lesson rule: minecraft")


def test_app_names_match_whole_names_with_spacing_collapsed() -> None:
    # given
    policy = lesson(LessonMode.BLOCK_LIST, block={RuleKind.APP: ["Microsoft  Solitaire"]})
    # when / then
    assert judge(policy, "APP_FOCUS", app="microsoft solitaire").blocked
    assert not judge(policy, "APP_FOCUS", app="Microsoft Solitaire Collection").blocked
    assert not judge(policy, "APP_FOCUS", app="Microsoft").blocked


# --- modes ------------------------------------------------------------------------------------


def test_block_list_allows_everything_not_listed() -> None:
    # given
    policy = lesson(LessonMode.BLOCK_LIST, block={RuleKind.DOMAIN: ["games.example"]})
    # when / then
    assert judge(policy, "URL_VISIT", url="https://bbc.co.uk/bitesize") == Verdict(False)
    assert judge(policy, "APP_FOCUS", app="Calculator") == Verdict(False)


def test_allow_only_blocks_every_site_and_app_not_allowed() -> None:
    # given: focus mode on BBC Bitesize, one Google Docs folder and a calculator
    policy = lesson(
        LessonMode.ALLOW_ONLY,
        allow={
            RuleKind.DOMAIN: ["bbc.co.uk"],
            RuleKind.URL_PREFIX: ["https://docs.google.com/document/d/class-10x/"],
            RuleKind.APP: ["Calculator"],
        },
    )
    # when / then: allowed
    assert not judge(policy, "URL_VISIT", url="https://www.bbc.co.uk/bitesize").blocked
    assert not judge(
        policy, "URL_VISIT", url="https://docs.google.com/document/d/class-10x/edit"
    ).blocked
    assert not judge(policy, "APP_FOCUS", app="calculator").blocked
    # and: everything else blocked, with the reason
    assert judge(policy, "URL_VISIT", url="https://youtube.com/") == Verdict(
        True, "not on the lesson's allowed sites"
    )
    assert judge(policy, "URL_VISIT", url="https://docs.google.com/document/d/other/").blocked
    assert judge(policy, "APP_FOCUS", app="Minecraft") == Verdict(
        True, "not on the lesson's allowed apps"
    )
    # and: a page is judged by its address, whichever app shows it
    assert judge(policy, "URL_VISIT", app="Calculator", url="https://youtube.com/").blocked


def test_allow_only_still_applies_the_lessons_block_list() -> None:
    # given
    policy = lesson(
        LessonMode.ALLOW_ONLY,
        allow={RuleKind.DOMAIN: ["bbc.co.uk"]},
        block={RuleKind.URL_PREFIX: ["https://www.bbc.co.uk/iplayer"]},
    )
    # when / then
    assert not judge(policy, "URL_VISIT", url="https://www.bbc.co.uk/bitesize").blocked
    assert judge(policy, "URL_VISIT", url="https://www.bbc.co.uk/iplayer/episode") == Verdict(
        True, "lesson rule: https://www.bbc.co.uk/iplayer"
    )


@pytest.mark.parametrize("kind", ["TYPED_TEXT", "IDLE", "LOGIN", "LOGOUT"])
def test_events_that_name_no_site_or_app_are_never_blocked(kind: str) -> None:
    # given
    policy = lesson(LessonMode.ALLOW_ONLY, allow={RuleKind.DOMAIN: ["bbc.co.uk"]})
    # when / then
    assert judge(policy, kind, url="https://youtube.com/", app="Minecraft") == Verdict(False)


@pytest.mark.parametrize("kind", ["APP_FOCUS", "URL_VISIT", "SEARCH", "SCREENSHOT"])
def test_events_that_name_a_site_are_judged(kind: str) -> None:
    # given
    policy = lesson(LessonMode.BLOCK_LIST, block={RuleKind.DOMAIN: ["youtube.com"]})
    # when / then
    assert judge(policy, kind, url="https://youtube.com/results?q=x").blocked


def test_outside_a_lesson_only_the_school_rules_apply() -> None:
    # given
    policy = effective_policy([(RuleKind.DOMAIN, "gambling.example")])
    # when / then
    assert policy.mode is None
    assert judge(policy, "URL_VISIT", url="https://gambling.example/") == Verdict(
        True, "school rule: gambling.example"
    )
    assert not judge(policy, "URL_VISIT", url="https://youtube.com/").blocked
    assert not judge(policy, "APP_FOCUS", app="Minecraft").blocked


# --- the school's locked list -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "url", "app"),
    [
        (RuleKind.DOMAIN, "youtube.com", "https://www.youtube.com/watch", None),
        (RuleKind.URL_PREFIX, "https://youtube.com/shorts", "https://youtube.com/shorts/1", None),
        (RuleKind.APP, "Roblox", None, "roblox"),
    ],
)
def test_the_school_locked_list_wins_over_a_lessons_allow_list(
    kind: RuleKind, value: str, url: str | None, app: str | None
) -> None:
    # given: the lesson allows exactly what the school locks, in both modes
    allow = {
        RuleKind.DOMAIN: ["youtube.com"],
        RuleKind.URL_PREFIX: ["https://youtube.com/"],
        RuleKind.APP: ["Roblox"],
    }
    for mode in LessonMode:
        policy = lesson(mode, allow=allow, school=[(kind, value)])
        # when
        verdict = judge(policy, "URL_VISIT" if url else "APP_FOCUS", url=url, app=app)
        # then
        assert verdict.blocked, mode
        assert verdict.reason is not None
        assert verdict.reason.startswith("school rule: ")


# --- normalisation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Example.COM", "example.com"),
        ("  example.com  ", "example.com"),
        ("example.com.", "example.com"),
        ("example.com:8080", "example.com"),
        ("HTTPS://Www.Example.com:443/Path?q=1", "www.example.com"),
        ("https://user:secret@example.com/", "example.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("BÜCHER.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("https://münchen.example/", "xn--mnchen-3ya.example"),
    ],
)
def test_domains_normalise_case_ports_paths_and_idna(raw: str, normal: str) -> None:
    assert normalise_domain(raw) == normal


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("HTTPS://Example.COM/Path", "https://example.com/Path"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com/a?x=1#frag", "https://example.com/a?x=1"),
        ("https://bücher.de/Seite", "https://xn--bcher-kva.de/Seite"),
        ("  https://example.com/a  ", "https://example.com/a"),
    ],
)
def test_urls_normalise_scheme_host_and_default_ports_but_keep_the_path(
    raw: str, normal: str
) -> None:
    assert normalise_url(raw) == normal


def test_a_non_default_port_is_kept_in_a_url() -> None:
    # given: the docstring promises that only *default* ports are dropped
    raw = "https://intranet.example:8443/admin"
    # when
    normal = normalise_url(raw)
    # then: :8443 is a different site from :443; a rule for one must not cover the other
    assert normal == "https://intranet.example:8443/admin"


def test_idna_and_unicode_forms_of_a_domain_match_each_other() -> None:
    # given
    unicode_rule = lesson(LessonMode.BLOCK_LIST, block={RuleKind.DOMAIN: ["bücher.de"]})
    punycode_rule = lesson(LessonMode.BLOCK_LIST, block={RuleKind.DOMAIN: ["xn--bcher-kva.de"]})
    # when / then
    for policy in (unicode_rule, punycode_rule):
        assert judge(policy, "URL_VISIT", url="https://www.BÜCHER.de/").blocked
        assert judge(policy, "URL_VISIT", url="https://xn--bcher-kva.de/").blocked


def test_app_names_normalise_to_casefolded_single_spaced_text() -> None:
    assert normalise_app("  Google   Chrome ") == "google chrome"
    assert normalise_app("STRASSE") == normalise_app("straße")


# --- validated_rules --------------------------------------------------------------------------


def test_valid_rules_come_back_normalised_sorted_and_unique() -> None:
    # when
    domains = validated_rules(
        "blockDomains",
        ["YouTube.com", "https://www.tiktok.com/@someone", "youtube.com", "bücher.de"],
        RuleKind.DOMAIN,
    )
    prefixes = validated_rules(
        "blockUrlPrefixes", ["HTTPS://Docs.Google.com:443/forms"], RuleKind.URL_PREFIX
    )
    apps = validated_rules("blockApps", ["Minecraft", "minecraft", " Roblox "], RuleKind.APP)
    # then
    assert domains == ["www.tiktok.com", "xn--bcher-kva.de", "youtube.com"]
    assert prefixes == ["https://docs.google.com/forms"]
    assert apps == ["minecraft", "roblox"]


@pytest.mark.parametrize(
    ("field", "values", "kind", "where"),
    [
        ("allowDomains", ["ok.example", "localhost"], RuleKind.DOMAIN, "allowDomains.1"),
        ("allowDomains", ["   "], RuleKind.DOMAIN, "allowDomains.0"),
        ("allowDomains", ["exa mple.com"], RuleKind.DOMAIN, "allowDomains.0"),
        ("allowDomains", ["https://"], RuleKind.DOMAIN, "allowDomains.0"),
        ("blockDomains", ["a" * 509 + ".com"], RuleKind.DOMAIN, "blockDomains.0"),
        ("blockUrlPrefixes", ["example.com/path"], RuleKind.URL_PREFIX, "blockUrlPrefixes.0"),
        ("blockUrlPrefixes", ["ftp://example.com/"], RuleKind.URL_PREFIX, "blockUrlPrefixes.0"),
        (
            "allowUrlPrefixes",
            ["https://ok.example/", "javascript:alert(1)"],
            RuleKind.URL_PREFIX,
            "allowUrlPrefixes.1",
        ),
        ("apps", [""], RuleKind.APP, "apps.0"),
        ("apps", ["x" * 513], RuleKind.APP, "apps.0"),
        ("domains", ["example.com"] * 201, RuleKind.DOMAIN, "domains"),
    ],
)
def test_unusable_rules_raise_invalid_input_naming_the_field(
    field: str, values: list[str], kind: RuleKind, where: str
) -> None:
    # when
    with pytest.raises(InvalidInput) as raised:
        validated_rules(field, values, kind)
    # then
    assert raised.value.field == where
    assert raised.value.extensions["code"] == "INVALID_INPUT"
    assert where in raised.value.message


def test_two_hundred_rules_are_accepted() -> None:
    values = [f"site{i}.example" for i in range(200)]
    assert len(validated_rules("blockDomains", values, RuleKind.DOMAIN)) == 200


# --- versions ---------------------------------------------------------------------------------


def test_the_version_ignores_order_case_and_spelling_of_the_same_rules() -> None:
    # given
    one = lesson(
        LessonMode.BLOCK_LIST,
        block={
            RuleKind.DOMAIN: ["youtube.com", "TikTok.com"],
            RuleKind.APP: ["Minecraft", "Roblox"],
        },
        school=[(RuleKind.DOMAIN, "a.example"), (RuleKind.DOMAIN, "b.example")],
    )
    same = lesson(
        LessonMode.BLOCK_LIST,
        block={
            RuleKind.DOMAIN: ["tiktok.com", "https://YouTube.com/"],
            RuleKind.APP: ["roblox", "MINECRAFT"],
        },
        school=[(RuleKind.DOMAIN, "B.example"), (RuleKind.DOMAIN, "a.example")],
    )
    # when / then
    assert one.version == same.version


def test_repeated_rules_do_not_change_the_version() -> None:
    # given
    once = lesson(LessonMode.BLOCK_LIST, block={RuleKind.DOMAIN: ["youtube.com"]})
    twice = lesson(LessonMode.BLOCK_LIST, block={RuleKind.DOMAIN: ["youtube.com", "YOUTUBE.com"]})
    # when / then
    assert once.version == twice.version


def test_the_version_is_stable_across_calls() -> None:
    policy = lesson(LessonMode.ALLOW_ONLY, allow={RuleKind.DOMAIN: ["bbc.co.uk"]})
    assert policy.version == policy.version
    assert len(policy.version) == 16


BASE: dict[str, object] = {
    "mode": LessonMode.BLOCK_LIST,
    "allow": {RuleKind.DOMAIN: ["bbc.co.uk"]},
    "block": {RuleKind.DOMAIN: ["youtube.com"]},
    "school": [(RuleKind.APP, "roblox")],
    "lesson_id": 1,
    "ends_at": ENDS_AT,
}


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("mode", LessonMode.ALLOW_ONLY),
        ("allow", {RuleKind.DOMAIN: ["bbc.co.uk", "gov.uk"]}),
        ("allow", {RuleKind.URL_PREFIX: ["https://bbc.co.uk/"]}),
        ("block", {RuleKind.DOMAIN: ["youtube.com"], RuleKind.APP: ["minecraft"]}),
        ("block", {}),
        ("school", [(RuleKind.APP, "roblox"), (RuleKind.DOMAIN, "x.example")]),
        ("school", []),
        ("lesson_id", 2),
        ("ends_at", ENDS_AT + timedelta(minutes=5)),
    ],
)
def test_the_version_changes_whenever_the_content_changes(change: str, value: object) -> None:
    # given
    before = lesson(**BASE)  # type: ignore[arg-type]
    # when
    after = lesson(**{**BASE, change: value})  # type: ignore[arg-type]
    # then
    assert after.version != before.version


def test_no_lesson_differs_from_a_lesson_without_rules() -> None:
    # given
    none = effective_policy(NO_SCHOOL_RULES)
    empty = lesson(LessonMode.BLOCK_LIST)
    # when / then
    assert none.version != empty.version
    assert none.version == effective_policy([]).version
