"""How the boards state their statistics: thresholds, p-values, multiple comparisons, intervals, best and ties.

One place for the numbers a reader has to trust, so the tables, the HTML page and the ablation reports say
the same thing: below ``MIN_PAIRED_ITEMS`` an ablation gives no verdict; an interval on fewer than
``FEW_ITEMS`` items is marked; a bootstrap p-value is never printed below its resolution (1/B).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

# Fewest paired items an ablation gives a verdict on. Below it the paired bootstrap has a handful of distinct
# resamples (4 items: 35), so its "interval" and p say little; the numbers are still printed, without a verdict.
MIN_PAIRED_ITEMS = 10
# Fewest items under a 95 % bootstrap interval that is shown unmarked. A percentile bootstrap on fewer items is
# too narrow (its coverage falls well under 95 %), so such a cell carries FEW_MARK and a footnote.
FEW_ITEMS = 20
FEW_MARK = "‡"
FEW_NOTE = (f"{FEW_MARK} interval on fewer than {FEW_ITEMS} items: a percentile bootstrap this small is too narrow "
            "(covers the true value less often than 95 %); read it as rough")
ALPHA = 0.05


def too_few(n: int) -> bool:
    return n < MIN_PAIRED_ITEMS


def no_verdict(n: int) -> str:
    return f"n={n}: too few items for a verdict"


def format_p(p: float, resamples: int) -> str:
    """A bootstrap p-value at its resolution: a share of B resamples cannot go below 1/B, so 0 is ``< 1/B``."""
    floor = 1.0 / resamples if resamples > 0 else 0.0
    if p < floor:
        return f"< {floor:.2g}"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.2g}"


def bonferroni(p: float, m: int, resamples: int) -> str:
    """Bonferroni-adjusted p (min(1, m p)) as text; a p under 1/B is under m/B once adjusted."""
    if resamples > 0 and p < 1.0 / resamples:
        bound = min(1.0, m / resamples)
        return f"< {bound:.2g}" if bound < 1.0 else "1.000"
    return format_p(min(1.0, m * p), resamples)


def multiple_comparisons(m: int, alpha: float = ALPHA) -> str:
    """The sentence a report prints when it tests several metrics at once ("" for one)."""
    if m < 2:
        return ""
    return (f"{m} metrics compared at once: about {m * alpha:.2g} of them expected to pass p < {alpha:g} by chance "
            f"alone when nothing differs; the Bonferroni-adjusted p (min(1, {m} × p)) is in column *p Bonf.*, the "
            "verdict reads the unadjusted 95 % interval.")


def interval_legend(with_ci: int, total: int) -> str:
    """What a table cell shows, from the cells themselves: an interval only where the runs computed one."""
    if total and with_ci == total:
        return "Each cell: value [95 % bootstrap interval]."
    if with_ci == 0:
        return "Each cell: value (no interval: these runs were made without bootstrap resamples)."
    return (f"Each cell: value [95 % bootstrap interval] where its run computed one ({with_ci} of {total} cells); a "
            "bare value has no interval (a run made without bootstrap resamples).")


def interval_phrase(with_ci: int, total: int) -> tuple[str, str]:
    """The page intro's promise, kept to what its cells hold: (the clause listing what a number carries, a
    sentence added when no number has an interval)."""
    if total and with_ci == total:
        return "a 95 % bootstrap interval, ", ""
    if with_ci == 0:
        return "", " No number here has an interval: these runs were made without bootstrap resamples."
    return "a 95 % bootstrap interval where its run computed one, ", ""


def n_text(ns: Iterable[int]) -> str:
    """``n=24``, or ``n=10–50`` when a column's cells rest on different numbers of items."""
    values = sorted(set(ns))
    if not values:
        return ""
    return f"n={values[0]}" if len(values) == 1 else f"n={values[0]}–{values[-1]}"


def best_and_ties(values: Sequence[tuple[float | None, tuple[float, float] | None]], better: str) -> dict[int, str]:
    """index -> "best" | "tied": the best value by the metric's direction, and every other value whose 95 %
    interval overlaps the best one's (equal values tie when either has no interval). Fewer than two values:
    nothing to rank, nothing marked."""
    scored = [(i, v, ci) for i, (v, ci) in enumerate(values) if v is not None and math.isfinite(v)]
    if len(scored) < 2:
        return {}
    pick = min if better == "lower" else max
    best_i, best_v, best_ci = pick(scored, key=lambda t: t[1])
    marks = {best_i: "best"}
    for i, v, ci in scored:
        if i == best_i:
            continue
        if v == best_v or (ci and best_ci and ci[0] <= best_ci[1] and best_ci[0] <= ci[1]):
            marks[i] = "tied"
    return marks
