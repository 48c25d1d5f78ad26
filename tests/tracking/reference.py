"""Reference data for tests: the shipped boundary files, or a bare specification."""

from __future__ import annotations

from models.tracking import Specification
from resolvers import tracking_reference as reference
from resolvers.boundaries import ImportCounts, import_boundaries
from resolvers.tracking_data import shipped_boundary_files


async def aqa_8300() -> Specification:
    """AQA 8300 GCSE Mathematics with its papers, and no boundaries."""
    board = await reference.ensure_board("AQA")
    gcse = await reference.ensure_qualification("GCSE")
    return await reference.ensure_specification(board, "8300", gcse)


async def import_shipped_boundaries() -> ImportCounts:
    """Every shipped boundary file, imported; the counts summed."""
    total = ImportCounts()
    for path in shipped_boundary_files():
        counts = await import_boundaries(path)
        total.created += counts.created
        total.unchanged += counts.unchanged
        total.updated += counts.updated
    return total
