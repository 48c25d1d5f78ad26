"""Connections: keyset pages that cover a list exactly once, bounded sizes, opaque cursors."""

from __future__ import annotations

import base64
import json
from typing import Any

from models.learners import Learner
from models.staff import Role
from resolvers.context import Services
from resolvers.pagination import encode_cursor
from schema.common import to_global_id
from tests import factories
from tests.conftest import GraphQLRunner

PAGE = "edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage endCursor } totalCount"

LEARNERS = f"""
query Learners($first: Int, $after: String, $filter: LearnerFilter) {{
  learners(first: $first, after: $after, filter: $filter) {{ {PAGE} }}
}}
"""

GROUPS = f"""
query Groups($first: Int, $after: String) {{ groups(first: $first, after: $after) {{ {PAGE} }} }}
"""

GROUP_LEARNERS = f"""
query GroupLearners($id: ID!, $first: Int, $after: String) {{
  node(id: $id) {{ ... on Group {{ learners(first: $first, after: $after) {{ {PAGE} }} }} }}
}}
"""

EVERY_GROUPS_LEARNERS = """
query { groups(first: 10) { nodes { name learners(first: 2) { totalCount nodes { id } } } } }
"""

STAFF = f"""
query Staff($first: Int, $after: String) {{ staff(first: $first, after: $after) {{ {PAGE} }} }}
"""

DEVICES = f"""
query Devices($first: Int, $after: String) {{ devices(first: $first, after: $after) {{ {PAGE} }} }}
"""

API_KEYS = f"""
query Keys($first: Int, $after: String) {{ apiKeys(first: $first, after: $after) {{ {PAGE} }} }}
"""

#: (given, family) names: ties on both, so the id decides, and prefixes of one another.
NAMES = [
    *[("Sam", "Ng")] * 3,
    ("Alex", "Ng"),
    ("Zoe", "Nguyen"),
    *[("Ann", "Adams")] * 2,
    ("Bea", "Adams"),
    *[(f"Kid{i:02d}", f"Family{i % 6}") for i in range(17)],
]


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def connection(result: Any, *path: str) -> dict[str, Any]:
    assert result.errors is None, result.errors
    data = result.data
    for name in path:
        data = data[name]
    return data


def ids(page: dict[str, Any]) -> list[str]:
    return [e["node"]["id"] for e in page["edges"]]


def error_of(result: Any) -> tuple[str | None, str | None]:
    assert result.errors, "expected an error"
    assert len(result.errors) == 1, result.errors
    extensions = result.errors[0].extensions or {}
    return extensions.get("code") or result.errors[0].message, extensions.get("field")


def in_learner_order(rows: list[Learner]) -> list[str]:
    ordered = sorted(rows, key=lambda r: (r.family_name, r.given_name, str(r.id)))
    return [to_global_id("Learner", r.id) for r in ordered]


async def page_through(
    gql: GraphQLRunner, document: str, viewer: Any, size: int, *path: str, **variables: Any
) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    after = None
    while not pages or pages[-1]["pageInfo"]["hasNextPage"]:
        assert len(pages) < 50, "paging does not end"
        result = await gql(document, viewer, first=size, after=after, **variables)
        pages.append(connection(result, *path))
        after = pages[-1]["pageInfo"]["endCursor"]
    return pages


async def test_learner_pages_cover_every_learner_once_in_name_order(
    services: Services, gql: GraphQLRunner
) -> None:
    # given: 25 learners, some sharing family and given names
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    rows = [
        await factories.learner(services, school, given_name=g, family_name=f) for g, f in NAMES
    ]
    await factories.learner(services, await factories.school(services))  # another school's
    # when
    pages = await page_through(gql, LEARNERS, admin, 10, "learners")
    # then
    assert [len(p["edges"]) for p in pages] == [10, 10, 5]
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [True, True, False]
    assert [p["pageInfo"]["hasPreviousPage"] for p in pages] == [False, True, True]
    assert [p["totalCount"] for p in pages] == [25, 25, 25]
    assert [i for p in pages for i in ids(p)] == in_learner_order(rows)
    for page in pages:
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
    beyond = await gql(LEARNERS, admin, first=10, after=pages[-1]["pageInfo"]["endCursor"])
    assert connection(beyond, "learners")["edges"] == []


async def test_a_learner_added_while_paging_does_not_shift_later_pages(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    rows = [await factories.learner(services, school, family_name=f"F{i:02d}") for i in range(6)]
    first = connection(await gql(LEARNERS, admin, first=3), "learners")
    # when: someone adds a learner who sorts before the cursor
    await factories.learner(services, school, family_name="A00")
    rest = connection(
        await gql(LEARNERS, admin, first=3, after=first["pageInfo"]["endCursor"]), "learners"
    )
    # then
    assert ids(first) + ids(rest) == in_learner_order(rows)
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["totalCount"] == 7


async def test_first_zero_answers_no_edges_but_says_there_are_more(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    group = await factories.group(
        school, learners=[await factories.learner(services, school) for _ in range(3)]
    )
    # when
    top = connection(await gql(LEARNERS, admin, first=0), "learners")
    nested = connection(
        await gql(GROUP_LEARNERS, admin, id=to_global_id("Group", group.id), first=0),
        "node",
        "learners",
    )
    # then: as the Relay spec computes it, and the same for both kinds of connection
    empty = {
        "edges": [],
        "totalCount": 3,
        "pageInfo": {"hasNextPage": True, "hasPreviousPage": False, "endCursor": None},
    }
    assert {"learners": top, "group.learners": nested} == {
        "learners": empty,
        "group.learners": empty,
    }


#: Every connection, with the path to it and the extra variables it needs.
CONNECTIONS = {
    "learners": (LEARNERS, ("learners",)),
    "groups": (GROUPS, ("groups",)),
    "group.learners": (GROUP_LEARNERS, ("node", "learners")),
    "staff": (STAFF, ("staff",)),
    "devices": (DEVICES, ("devices",)),
    "apiKeys": (API_KEYS, ("apiKeys",)),
}


async def test_page_size_is_bounded_to_100_on_every_connection(
    services: Services, gql: GraphQLRunner
) -> None:
    # given: one of everything, so every connection has something to show
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    group = await factories.group(school, learners=[await factories.learner(services, school)])
    await factories.device(school)
    await factories.api_key(school)
    extra = {"id": to_global_id("Group", group.id)}
    refused, accepted = (101, 1000, -1, 2**31 - 1), (100, 1)
    # when
    outcomes: dict[tuple[str, int], object] = {}
    for name, (document, path) in CONNECTIONS.items():
        variables = extra if name == "group.learners" else {}
        for first in refused:
            outcomes[name, first] = error_of(await gql(document, admin, first=first, **variables))
        for first in accepted:
            page = connection(await gql(document, admin, first=first, **variables), *path)
            outcomes[name, first] = 1 <= len(page["edges"]) <= first
    # then
    expected = {
        (name, first): ("INVALID_INPUT", "first") if first in refused else True
        for name in CONNECTIONS
        for first in (*refused, *accepted)
    }
    wrong = {key: got for key, got in outcomes.items() if got != expected[key]}
    assert not wrong, "\n".join(f"{key}: got {got!r}" for key, got in wrong.items())
    assert "100" in (await gql(LEARNERS, admin, first=101)).errors[0].message


#: Cursors no server could have issued; each must be refused, naming `after`.
GARBAGE_CURSORS = {
    "not base64": "%%% not a cursor %%%",
    "empty": "",
    "base64 of text": b64("hello"),
    "an object": b64('{"family_name": "A"}'),
    "no values": b64("[]"),
    "too many values": b64('["A", "B", "C", "D", 5]'),
    "nulls and booleans": b64("[null, true, false]"),
    "nested lists": b64('[["A"], ["B"], ["C"]]'),
    "not utf-8": base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
    "huge": b64(json.dumps(["A" * 5000, "B", "C"])),
}

#: Cursors another list issued: the right kinds of value, but not this list's.
LEARNER_SHAPED = encode_cursor(["Ng", "Sam", "0b7e8f2c-5d1a-4c3e-9f6a-2b8d7c1e4a90"])
GROUP_SHAPED = encode_cursor(["10X Maths", 1])
FOREIGN_CURSORS = {
    "learners": GROUP_SHAPED,
    "groups": LEARNER_SHAPED,
    "group.learners": GROUP_SHAPED,
    "staff": LEARNER_SHAPED,
    "devices": LEARNER_SHAPED,
    "apiKeys": GROUP_SHAPED,
}

#: Right number of values, wrong kinds: the last value must be the key's type.
FORGED_CURSORS = {
    "learners": encode_cursor(["Ng", "Sam", "not-a-uuid"]),
    "groups": encode_cursor(["10X Maths", "not-an-int"]),
    "group.learners": encode_cursor(["Ng", "Sam", "not-a-uuid"]),
    "staff": encode_cursor(["Staff", "x"]),
    "devices": encode_cursor(["Device", "x"]),
    "apiKeys": encode_cursor(["x"]),
}


async def test_a_malformed_after_cursor_is_invalid_input_naming_after(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    pupil = await factories.learner(services, school, given_name="Sam", family_name="Ng")
    group = await factories.group(school, learners=[pupil])
    await factories.device(school)
    await factories.api_key(school)
    extra = {"id": to_global_id("Group", group.id)}
    # when
    outcomes: dict[tuple[str, str], object] = {}
    for name, (document, _) in CONNECTIONS.items():
        variables = extra if name == "group.learners" else {}
        cursors = {
            **GARBAGE_CURSORS,
            "forged": FORGED_CURSORS[name],
            "another list's": FOREIGN_CURSORS[name],
        }
        for case, cursor in cursors.items():
            result = await gql(document, admin, first=5, after=cursor, **variables)
            outcomes[name, case] = error_of(result) if result.errors else "accepted"
    # then
    wrong = {key: got for key, got in outcomes.items() if got != ("INVALID_INPUT", "after")}
    assert not wrong, "\n".join(f"{key}: got {got!r}" for key, got in wrong.items())
    assert len(outcomes) == len(CONNECTIONS) * (len(GARBAGE_CURSORS) + 2)


async def test_group_learners_pages_cover_the_enrolled_learners_once(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    enrolled = [
        await factories.learner(services, school, given_name=g, family_name=f) for g, f in NAMES[:7]
    ]
    await factories.learner(services, school)  # not in the group
    group = await factories.group(school, learners=enrolled)
    # when
    pages = await page_through(
        gql, GROUP_LEARNERS, admin, 3, "node", "learners", id=to_global_id("Group", group.id)
    )
    # then
    assert [len(p["edges"]) for p in pages] == [3, 3, 1]
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [True, True, False]
    assert [p["pageInfo"]["hasPreviousPage"] for p in pages] == [False, True, True]
    assert [p["totalCount"] for p in pages] == [7, 7, 7]
    assert [i for p in pages for i in ids(p)] == in_learner_order(enrolled)


async def test_each_group_pages_its_own_learners(services: Services, gql: GraphQLRunner) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    rows = [await factories.learner(services, school, family_name=f"F{i}") for i in range(5)]
    await factories.group(school, name="A", learners=rows[:3])
    await factories.group(school, name="B", learners=rows[2:])
    await factories.group(school, name="C")
    # when
    result = await gql(EVERY_GROUPS_LEARNERS, admin)
    # then
    groups = connection(result, "groups", "nodes")
    assert [(g["name"], g["learners"]["totalCount"]) for g in groups] == [
        ("A", 3),
        ("B", 3),
        ("C", 0),
    ]
    assert [n["id"] for n in groups[0]["learners"]["nodes"]] == in_learner_order(rows[:2])
    assert [n["id"] for n in groups[1]["learners"]["nodes"]] == in_learner_order(rows[2:4])


async def test_group_pages_cover_every_group_once_in_name_order(
    services: Services, gql: GraphQLRunner
) -> None:
    # given: names that tie (in different academic years), so the id decides
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    made = [await factories.group(school, name=n) for n in ("10Y", "10X", "11A", "9B", "next")]
    made[-1].name, made[-1].academic_year = "10X", "2027/28"
    await made[-1].save()
    made.append(await factories.group(school, name="10X Maths"))
    made.append(await factories.group(school, name="Art"))
    await factories.group(await factories.school(services), name="10A")  # another school's
    # when
    pages = await page_through(gql, GROUPS, admin, 3, "groups")
    # then
    expected = [to_global_id("Group", g.id) for g in sorted(made, key=lambda g: (g.name, g.id))]
    assert [i for p in pages for i in ids(p)] == expected
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [True, True, False]
    assert [p["totalCount"] for p in pages] == [7, 7, 7]


async def test_a_teacher_pages_only_through_groups_they_teach(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    teacher = await factories.staff(school, Role.TEACHER)
    taught = [await factories.group(school, name=f"T{i}", teachers=[teacher]) for i in range(3)]
    await factories.group(school, name="T1 other")
    # when
    pages = await page_through(
        gql, GROUPS, factories.viewer(teacher, school, Role.TEACHER), 2, "groups"
    )
    # then
    assert [i for p in pages for i in ids(p)] == [to_global_id("Group", g.id) for g in taught]
    assert [p["totalCount"] for p in pages] == [3, 3]


async def test_learner_filters_narrow_the_list_and_its_pages(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school = await factories.school(services)
    admin = await factories.admin_viewer(school)
    adams = await factories.learner(services, school, family_name="Adams", year_group=10)
    adamson = await factories.learner(services, school, family_name="adamson", year_group=11)
    baker = await factories.learner(services, school, family_name="Baker", year_group=10)
    cole = await factories.learner(services, school, family_name="Cole", year_group=10)
    dee = await factories.learner(services, school, family_name="Dee", year_group=None)
    group = await factories.group(school, learners=[adams, adamson, baker])
    gid = to_global_id("Group", group.id)
    cases = {
        "year 10": ({"yearGroup": 10}, [adams, baker, cole]),
        "reception": ({"yearGroup": 0}, []),
        "in the group": ({"groupId": gid}, [adams, adamson, baker]),
        "name, any case": ({"nameStartsWith": "ADA"}, [adams, adamson]),
        "name with spaces around": ({"nameStartsWith": "  Bak "}, [baker]),
        "like wildcard percent": ({"nameStartsWith": "%"}, []),
        "like wildcard underscore": ({"nameStartsWith": "_dams"}, []),
        "all three": ({"yearGroup": 10, "groupId": gid, "nameStartsWith": "a"}, [adams]),
        "nothing": ({}, [adams, adamson, baker, cole, dee]),
    }
    # when: paging one at a time, so the filter must hold across cursors too
    outcomes = {}
    for case, (where, _) in cases.items():
        pages = await page_through(gql, LEARNERS, admin, 1, "learners", filter=where)
        outcomes[case] = ([i for p in pages for i in ids(p)], pages[0]["totalCount"])
    # then
    assert outcomes == {
        case: (in_learner_order(rows), len(rows)) for case, (_, rows) in cases.items()
    }


async def test_filtering_by_another_schools_group_is_not_found(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    school, elsewhere = await factories.school(services), await factories.school(services)
    admin = await factories.admin_viewer(school)
    theirs = await factories.group(
        elsewhere, learners=[await factories.learner(services, elsewhere)]
    )
    # when
    result = await gql(LEARNERS, admin, filter={"groupId": to_global_id("Group", theirs.id)})
    # then
    assert result.data is None
    assert error_of(result)[0] == "NOT_FOUND"
