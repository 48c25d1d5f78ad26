"""Tortoise models only; each module is one domain."""

MODEL_MODULES = [
    "models.schools",
    "models.staff",
    "models.learners",
    "models.groups",
    "models.devices",
    "models.partners",
    "models.audit",
    "models.classroom",
    "models.tracking",
    "models.markbook",
    "models.safeguarding",
    "models.alert_routing",
    "models.roster",
    "models.credentials",
]

__all__ = ["MODEL_MODULES"]
