"""Documents are parsed and validated once per text; the limits still hold every time.

schema.extensions.DocumentLimits keeps the documents that passed every check (validation, depth,
aliases, introspection, directives, logins) by their text, bounded. A document that fails is
checked afresh, and fails, every time.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import strawberry.schema.schema as strawberry_schema
from graphql import parse
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from app.config import Limits
from resolvers.context import Context, RequestInfo, Services, Viewer
from schema import build_schema
from schema.extensions import CheckedDocuments
from tests import factories


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often strawberry parsed and validated a document."""
    calls = {"parse": 0, "validate": 0}

    def counting(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(strawberry_schema, "parse", counting("parse", strawberry_schema.parse))
    monkeypatch.setattr(
        strawberry_schema,
        "validate_document",
        counting("validate", strawberry_schema.validate_document),
    )
    return calls


@pytest.fixture
async def admin(services: Services) -> Viewer:
    return await factories.admin_viewer(await factories.school(services))


def unique(document: str) -> str:
    """The document, made a text no other test sends (the cache lives as long as the schema)."""
    return f"# {uuid.uuid4()}\n{document}"


async def run(services: Services, viewer: Viewer | None, document: str, **kw: Any) -> Any:
    schema = kw.pop("schema", None) or SCHEMA
    context = Context(services, viewer=viewer, request=RequestInfo())
    return await schema.execute(document, context_value=context, **kw)


SCHEMA = build_schema(Limits())


async def test_a_valid_document_is_parsed_and_validated_once(
    services: Services, admin: Viewer, counts: dict[str, int]
) -> None:
    document = unique("query { school { name } }")
    # when
    results = [await run(services, admin, document) for _ in range(3)]
    # then
    assert [r.errors for r in results] == [None, None, None]
    assert counts == {"parse": 1, "validate": 1}


def deep(depth: int) -> str:
    path = (["groups", "nodes"] + ["learners", "nodes", "groups"] * 5)[:depth]
    leaf = "totalCount" if path[-1] == "learners" else "id"
    return "query { " + " { ".join(path) + " { " + leaf + " }" + " }" * (len(path) - 1) + " }"


REFUSED = {
    "too deep": (deep(11), "exceeds maximum operation depth of 10"),
    "too many aliases": (
        "query { " + " ".join(f"a{i}: __typename" for i in range(16)) + " }",
        "16 aliases found. Allowed: 15",
    ),
    "too many directives": (
        "query { " + " ".join(f"d{i}: __typename @include(if: true)" for i in range(6)) + " }",
        "Too many directives.",
    ),
    "introspection": ("query { __schema { __typename } }", "introspection has been disabled"),
    "two logins": (
        'mutation { a: login(input: {email: "a@x.test", password: "p"}) { token } '
        'b: login(input: {email: "b@x.test", password: "p"}) { token } }',
        "Only one login per request.",
    ),
    "unknown field": ("query { school { nonsense } }", "Cannot query field"),
    "empty selection": ("query { school { } }", "Selection sets must not be empty."),
}


@pytest.mark.parametrize(("document", "refusal"), REFUSED.values(), ids=REFUSED.keys())
async def test_a_refused_document_is_checked_and_refused_every_time(
    services: Services, admin: Viewer, counts: dict[str, int], document: str, refusal: str
) -> None:
    # when the same refused text arrives again and again
    results = [await run(services, admin, document) for _ in range(3)]
    # then each time it is refused, after being checked afresh
    for result in results:
        assert result.data is None
        assert [refusal in e.message for e in result.errors] == [True]
    assert counts["parse"] == 3


async def test_a_document_with_string_literals_is_not_kept(
    services: Services, admin: Viewer, counts: dict[str, int]
) -> None:
    # given a document with a value written into it, where a variable should be
    document = unique('query { learners(filter: {nameStartsWith: "Ad"}) { totalCount } }')
    # when it arrives twice
    results = [await run(services, admin, document) for _ in range(2)]
    # then it is answered, but checked afresh each time: the text is not kept past the request
    assert [r.errors for r in results] == [None, None]
    assert counts == {"parse": 2, "validate": 2}


async def test_the_limits_hold_next_to_documents_that_passed(
    services: Services, admin: Viewer
) -> None:
    # given a document at the depth limit, accepted (and remembered)
    assert (await run(services, admin, deep(10))).errors is None
    assert (await run(services, admin, deep(10))).errors is None
    # when one level deeper arrives
    refused = await run(services, admin, deep(11))
    # then it is refused
    assert refused.data is None
    assert "exceeds maximum operation depth" in refused.errors[0].message


async def test_an_over_long_document_is_refused_even_if_a_shorter_one_passed(
    services: Services, admin: Viewer
) -> None:
    # given
    short = "query { school { name } }"
    assert (await run(services, admin, short)).errors is None
    # when the same document padded past the character limit arrives
    result = await run(services, admin, short + " " * 15_000)
    # then
    assert result.data is None
    assert "longer than 15000 characters" in result.errors[0].message


async def test_a_remembered_document_is_still_held_to_the_allowed_operation_types(
    services: Services,
) -> None:
    # given a mutation that ran (so it passed every check)
    document = unique('mutation { login(input: {email: "x@x.test", password: "p"}) { token } }')
    assert (await run(services, None, document)).errors is None
    # when it arrives where only queries are allowed (as on GET)
    # then it is refused as before
    with pytest.raises(InvalidOperationTypeError):
        await run(services, None, document, allowed_operation_types={OperationType.QUERY})


async def test_each_schema_has_its_own_documents(services: Services, admin: Viewer) -> None:
    # given a document within the default depth limit, remembered by one schema
    document = deep(5)
    assert (await run(services, admin, document)).errors is None
    # when a schema with a stricter limit gets it
    strict = build_schema(Limits(max_depth=4))
    result = await run(services, admin, document, schema=strict)
    # then that schema refuses it
    assert result.data is None
    assert "exceeds maximum operation depth of 4" in result.errors[0].message


def test_the_remembered_documents_are_bounded_by_count_and_by_length() -> None:
    checked = CheckedDocuments(max_entries=3, max_chars=100)
    document = parse("{ __typename }")
    # by count: the least recently used goes first
    for text in ("a", "b", "c"):
        checked.put(text, document)
    assert checked.get("a") is document  # now the most recently used
    checked.put("d", document)
    assert [checked.get(t) is not None for t in "abcd"] == [True, False, True, True]
    # by length: long texts push out older ones, and one too long is never kept
    checked.put("x" * 60, document)
    checked.put("y" * 40, document)
    assert len(checked) == 2
    assert checked.get("x" * 60) is not None
    assert checked.get("y" * 40) is not None
    checked.put("z" * 101, document)
    assert checked.get("z" * 101) is None
    assert len(checked) == 2
