"""Timing two sides of a comparison in the same run, so machine noise hits both alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable

Pass = Callable[[], Awaitable[object]]


async def passes_per_second(run: Pass, seconds: float) -> float:
    """Whole passes per second, for at least ``seconds`` and one pass."""
    done = 0
    start = time.perf_counter()
    while True:
        await run()
        done += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


async def paired_rounds(
    project: Pass,
    baseline: Pass,
    *,
    rounds: int,
    seconds: float,
    report: Callable[[int, float, float], None],
) -> tuple[list[float], list[float]]:
    """Passes per second of each side, ``rounds`` times within about ``seconds`` in all.

    Which side goes first alternates, so neither always runs on a warmer machine; ``report``
    is told each round's two rates.
    """
    slice_seconds = seconds / (2 * rounds)
    project_rates: list[float] = []
    baseline_rates: list[float] = []
    for round_ in range(1, rounds + 1):
        order = ("project", "baseline") if round_ % 2 == 1 else ("baseline", "project")
        for side in order:
            if side == "project":
                project_rates.append(await passes_per_second(project, slice_seconds))
            else:
                baseline_rates.append(await passes_per_second(baseline, slice_seconds))
        report(round_, project_rates[-1], baseline_rates[-1])
    return project_rates, baseline_rates


def median_ratio(project_rates: list[float], baseline_rates: list[float]) -> float:
    """Median of the per-round ratios.

    Each round's two sides ran back to back, so this is less sensitive to load changing during
    the run than the ratio of the medians.
    """
    ratios = [ours / base for ours, base in zip(project_rates, baseline_rates, strict=True)]
    return statistics.median(ratios)


__all__ = ["median_ratio", "paired_rounds", "passes_per_second"]
