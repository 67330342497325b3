"""Pure decisions of the benchmark: statistics, ratios, pass/fail, the table and the JSON.

Kept free of processes and servers so tests/unit can check every decision the report rests on:
a wrong percentile or an inverted ratio would make the whole table lie.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """What a row says. Only PASS and REPORT let the run exit 0."""

    PASS = "PASS"  # measured, and the ratio meets the target
    FAIL = "FAIL"  # measured, and the ratio misses the target
    REPORT = "report"  # measured; the issue asks only to report it
    MISSING = "MISSING"  # the code under test is not there (yet): not measured, not a pass
    ERROR = "ERROR"  # the measurement itself failed (a process exited non-zero, a timeout)


FAILING = frozenset({Status.FAIL, Status.MISSING, Status.ERROR})


@dataclass(frozen=True)
class Target:
    """A bound on figure / baseline: `<=` for costs (time, memory), `>=` for rates (messages/s)."""

    op: str  # "<=" or ">="
    ratio: float

    def __post_init__(self) -> None:
        if self.op not in ("<=", ">="):
            raise ValueError(f"target op must be <= or >=, not {self.op!r}")
        if not (self.ratio > 0 and math.isfinite(self.ratio)):
            raise ValueError(f"target ratio must be a positive number, not {self.ratio!r}")

    def describe(self) -> str:
        return f"{self.op} {self.ratio:g}x"

    def met_by(self, ratio: float) -> bool:
        return ratio <= self.ratio if self.op == "<=" else ratio >= self.ratio


def at_most(ratio: float) -> Target:
    return Target("<=", ratio)


def at_least(ratio: float) -> Target:
    return Target(">=", ratio)


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sample (the mean of the two middle values for an even count)."""
    if not values:
        raise ValueError("median of an empty sample")
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[mid])
    return (ordered[mid - 1] + ordered[mid]) / 2.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks (numpy's default),
    so p50 equals the median and p100 the maximum."""
    if not values:
        raise ValueError("percentile of an empty sample")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, not {q}")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = math.ceil(pos)
    if low == high:
        return float(ordered[low])
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def ratio_of(figure: float | None, baseline: float | None) -> float | None:
    """figure / baseline, or None when either is unknown or the baseline is not positive."""
    if figure is None or baseline is None or baseline <= 0:
        return None
    return figure / baseline


def judge(ratio: float | None, target: Target | None) -> Status:
    """PASS/FAIL against the target; REPORT when the row has no target; ERROR when a target
    exists but no ratio could be computed (a missing figure must never read as a pass)."""
    if target is None:
        return Status.REPORT
    if ratio is None or not math.isfinite(ratio):
        return Status.ERROR
    return Status.PASS if target.met_by(ratio) else Status.FAIL


@dataclass
class Row:
    """One line of the table: a figure, the baseline it is compared with, and the target."""

    id: str
    title: str
    unit: str = "ms"
    figure: float | None = None
    baseline: float | None = None
    baseline_label: str = ""
    target: Target | None = None
    error: str | None = None  # why the measurement failed
    missing: str | None = None  # what code under test is absent
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return ratio_of(self.figure, self.baseline)

    @property
    def status(self) -> Status:
        if self.missing is not None:
            return Status.MISSING
        if self.error is not None:
            return Status.ERROR
        if self.target is None:
            return Status.REPORT
        return judge(self.ratio, self.target)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "unit": self.unit,
            "figure": self.figure,
            "baseline": self.baseline,
            "baseline_label": self.baseline_label,
            "ratio": self.ratio,
            "target": self.target.describe() if self.target else None,
            "status": self.status.value,
            "error": self.error,
            "missing": self.missing,
            "note": self.note,
            "details": self.details,
        }


def format_value(value: float | None, unit: str) -> str:
    """Figures as a reader wants them: 1 decimal for ms/MiB, whole numbers for rates and counts."""
    if value is None:
        return "-"
    if unit in ("msg/s", "calls/s"):
        return f"{value:,.0f} {unit}"
    if unit in ("round trips", "count"):
        return f"{value:g}" if unit == "count" else f"{value:g} rt"
    if unit == "ms":
        return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    if unit == "%":
        return f"{value:.2f} %"
    return f"{value:g} {unit}"


def format_ratio(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}x"


def table_cells(row: Row) -> list[str]:
    """The cells of one row, in the order of TABLE_HEADER."""
    baseline = format_value(row.baseline, row.unit)
    if row.baseline_label and row.baseline is not None:
        baseline = f"{baseline} ({row.baseline_label})"
    result = row.status.value
    if row.missing is not None:
        result = f"MISSING: {row.missing}"
    elif row.error is not None:
        result = f"ERROR: {row.error}"
    return [
        row.id,
        row.title,
        format_value(row.figure, row.unit),
        baseline,
        format_ratio(row.ratio if row.baseline is not None else None),
        row.target.describe() if row.target else "report",
        result,
        row.note,
    ]


TABLE_HEADER = ["row", "what", "figure", "baseline", "ratio", "target", "result", "notes"]


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(rows: Iterable[Row], max_cell: int = 90) -> str:
    """A plain-text table with aligned columns (the last thing `nox -s bench` prints)."""
    body = [[_clip(c, max_cell) for c in table_cells(r)] for r in rows]
    widths = [max(len(h), *(len(line[i]) for line in body)) if body else len(h) for i, h in enumerate(TABLE_HEADER)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(TABLE_HEADER, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for line in body:
        lines.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    return "\n".join(lines)


def markdown_table(rows: Iterable[Row]) -> str:
    """The same table in Markdown, for README's Performance section."""
    lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "---|" * len(TABLE_HEADER)]
    for row in rows:
        cells = [c.replace("|", "\\|") for c in table_cells(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def exit_code(rows: Iterable[Row]) -> int:
    """1 when any row failed its target, could not be measured, or is missing; else 0."""
    return 1 if any(r.status in FAILING for r in rows) else 0


def summary(rows: Sequence[Row]) -> dict[str, int]:
    counts: dict[str, int] = {s.value: 0 for s in Status}
    for row in rows:
        counts[row.status.value] += 1
    return counts


def select_groups(groups: Sequence[str], only: str | None) -> list[str]:
    """Which row groups to run for `--only`: a comma list of group numbers or names
    (e.g. `1,3` or `hooks,mcp`). Unknown names are refused so a typo never runs nothing."""
    if not only:
        return list(groups)
    wanted = [w.strip() for w in only.split(",") if w.strip()]
    chosen: list[str] = []
    for w in wanted:
        matches = [g for g in groups if g == w or g.split(":", 1)[0] == w or g.split(":", 1)[-1] == w]
        if not matches:
            raise ValueError(f"unknown row group {w!r}; known: {', '.join(groups)}")
        for m in matches:
            if m not in chosen:
                chosen.append(m)
    return [g for g in groups if g in chosen]


def interleaved(names: Sequence[str], rounds: int) -> list[str]:
    """Run order for comparing several commands on a noisy machine: alternate them every round
    (and reverse the order every other round), so drift hits all of them alike."""
    order: list[str] = []
    for i in range(rounds):
        order.extend(names if i % 2 == 0 else list(reversed(names)))
    return order


def window_median(values: Sequence[float], start: int, count: int) -> float:
    """Median of values[start:start+count] (negative start counts from the end), for comparing
    the first few setups with the last few instead of two single, noisy samples."""
    if count <= 0:
        raise ValueError("window must hold at least one value")
    part = values[start:] if start < 0 and start + count >= 0 else values[start : start + count]
    part = part[:count]
    if not part:
        raise ValueError("window is outside the sample")
    return median(part)
