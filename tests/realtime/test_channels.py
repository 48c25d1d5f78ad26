"""Channel names: tenant-first, versioned, and built from non-negative ints only."""

from collections.abc import Callable
from enum import IntEnum

import pytest

from realtime import channels


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (channels.school(3), "v1:school:3"),
        (channels.group_activity(3, 41), "v1:school:3:group:41:activity"),
        (channels.device(3, 9), "v1:school:3:device:9"),
        (channels.user(3, 12), "v1:school:3:user:12"),
        (channels.alerts(3), "v1:school:3:alerts"),
        (channels.access(3), "v1:school:3:access"),
        (channels.policy(3), "v1:school:3:policy"),
        (channels.revocations(), "v1:revocations"),
        (channels.school(0), "v1:school:0"),
    ],
)
def test_names_are_tenant_first_and_versioned(built: str, expected: str) -> None:
    assert built == expected


BUILDERS: list[Callable[[object], str]] = [
    channels.school,  # type: ignore[list-item]
    channels.alerts,  # type: ignore[list-item]
    channels.access,  # type: ignore[list-item]
    channels.policy,  # type: ignore[list-item]
    lambda bad: channels.group_activity(1, bad),  # type: ignore[arg-type]
    lambda bad: channels.group_activity(bad, 1),  # type: ignore[arg-type]
    lambda bad: channels.device(1, bad),  # type: ignore[arg-type]
    lambda bad: channels.user(1, bad),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("bad", ["3", "3:group:9", 3.0, None, True, False])
def test_non_int_ids_are_a_type_error(build: Callable[[object], str], bad: object) -> None:
    with pytest.raises(TypeError, match="must be an int"):
        build(bad)


@pytest.mark.parametrize("build", BUILDERS)
def test_negative_ids_are_a_value_error(build: Callable[[object], str]) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        build(-1)


def test_int_subclasses_are_spelled_as_plain_ints() -> None:
    class Demo(IntEnum):
        SCHOOL = 5

    assert channels.school(Demo.SCHOOL) == "v1:school:5"
