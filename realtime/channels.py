"""The only place realtime channel names are built: tenant-first, versioned, from int ids."""

# Why ints only: a channel name is a routing key and a tenancy boundary. Built from validated
# non-negative ints (never from request strings) it cannot carry a ':' or another school's prefix,
# so no input can address someone else's channel, and each channel has exactly one spelling.
# `bool` is rejected although it is an int, because True would silently become channel 1.

VERSION = "v1"


def _id(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")
    return int(value)  # normalise int subclasses (IntEnum) to one spelling


def school(school_id: int) -> str:
    """Everything addressed to one school (e.g. a notice for all its devices)."""
    return f"{VERSION}:school:{_id('school_id', school_id)}"


def group_activity(school_id: int, group_id: int) -> str:
    """Live activity of one teaching group's learners (latest-wins)."""
    return f"{school(school_id)}:group:{_id('group_id', group_id)}:activity"


def device(school_id: int, device_id: int) -> str:
    """Commands for one enrolled device."""
    return f"{school(school_id)}:device:{_id('device_id', device_id)}"


def user(school_id: int, user_id: int) -> str:
    """Events for one staff user, such as a role change closing their streams."""
    return f"{school(school_id)}:user:{_id('user_id', user_id)}"


def alerts(school_id: int) -> str:
    """Safeguarding alert notifications (ids only; the database is the source of truth)."""
    return f"{school(school_id)}:alerts"


def access(school_id: int) -> str:
    """Who may see what changed in a school: live streams re-check their subscribers at once."""
    return f"{school(school_id)}:access"


def policy(school_id: int) -> str:
    """A lesson started or ended, or the school's rules changed: devices recompute their policy."""
    return f"{school(school_id)}:policy"


def safeguarding_rules(school_id: int) -> str:
    """A school changed its safeguarding rules or settings: processes rebuild its detector."""
    return f"{school(school_id)}:safeguarding-rules"


def revocations() -> str:
    """Sessions, devices and keys that just lost their credentials; every process closes their
    sockets. Credentials are global (a session is not owned by one school's stream)."""
    return f"{VERSION}:revocations"


__all__ = [
    "VERSION",
    "access",
    "alerts",
    "device",
    "group_activity",
    "policy",
    "revocations",
    "safeguarding_rules",
    "school",
    "user",
]
