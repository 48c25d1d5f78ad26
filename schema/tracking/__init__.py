"""Tracking: exam-board reference data, assessments, marks and progress."""

from __future__ import annotations

import strawberry

from schema.tracking.specifications import SpecificationQuery


@strawberry.type
class TrackingQuery(SpecificationQuery):
    pass


__all__ = ["TrackingQuery"]
