"""The benchmark's pure decisions: statistics, ratios, pass/fail, row selection, the table."""

from __future__ import annotations

import json
import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.core import (
    Row,
    Status,
    Target,
    at_least,
    at_most,
    exit_code,
    format_table,
    format_value,
    interleaved,
    judge,
    markdown_table,
    median,
    percentile,
    ratio_of,
    select_groups,
    summary,
    window_median,
)

samples = st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=60)


def test_median_odd_and_even() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5


def test_median_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError):
        median([])


@given(samples)
def test_median_agrees_with_statistics(values: list[float]) -> None:
    assert median(values) == pytest.approx(statistics.median(values))


def test_percentile_interpolates_like_numpy() -> None:
    values = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert percentile(values, 0) == 10.0
    assert percentile(values, 100) == 50.0
    assert percentile(values, 50) == 30.0
    assert percentile(values, 25) == 20.0
    assert percentile(values, 90) == pytest.approx(46.0)
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)


@given(samples, st.floats(min_value=0, max_value=100))
def test_percentile_is_within_the_sample_and_p50_is_the_median(values: list[float], q: float) -> None:
    p = percentile(values, q)
    assert min(values) <= p <= max(values) or math.isclose(p, min(values)) or math.isclose(p, max(values))
    assert percentile(values, 50) == pytest.approx(median(values))


@given(samples, st.floats(min_value=0, max_value=99))
def test_percentile_never_decreases_with_q(values: list[float], q: float) -> None:
    assert percentile(values, q) <= percentile(values, q + 1) + 1e-9


def test_percentile_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError):
        percentile([1.0], 101)
    with pytest.raises(ValueError):
        percentile([], 50)


def test_ratio_needs_both_sides_and_a_positive_baseline() -> None:
    assert ratio_of(30.0, 10.0) == 3.0
    assert ratio_of(None, 10.0) is None
    assert ratio_of(1.0, None) is None
    assert ratio_of(1.0, 0.0) is None


def test_cost_target_boundary_is_a_pass() -> None:
    assert judge(3.0, at_most(3.0)) is Status.PASS
    assert judge(3.0001, at_most(3.0)) is Status.FAIL


def test_rate_target_is_a_lower_bound() -> None:
    assert judge(0.5, at_least(0.5)) is Status.PASS
    assert judge(0.49, at_least(0.5)) is Status.FAIL
    assert judge(2.0, at_least(0.5)) is Status.PASS


def test_no_ratio_against_a_target_is_an_error_not_a_pass() -> None:
    assert judge(None, at_most(2.0)) is Status.ERROR
    assert judge(float("nan"), at_most(2.0)) is Status.ERROR
    assert judge(None, None) is Status.REPORT


def test_bad_targets_are_refused() -> None:
    with pytest.raises(ValueError):
        Target("<", 1.0)
    with pytest.raises(ValueError):
        Target("<=", 0)


def test_row_status_order_missing_then_error_then_target() -> None:
    row = Row("1", "hook", figure=30.0, baseline=10.0, target=at_most(3.0))
    assert row.ratio == 3.0 and row.status is Status.PASS
    row.figure = 31.0
    assert row.status is Status.FAIL
    row.error = "exited 1"
    assert row.status is Status.ERROR
    row.missing = "coord.hooks not there"
    assert row.status is Status.MISSING
    assert Row("7c", "redis memory", unit="MiB", figure=12.0).status is Status.REPORT


def test_exit_code_fails_on_fail_missing_and_error_only() -> None:
    ok = [Row("1", "a", figure=1.0, baseline=1.0, target=at_most(2.0)), Row("2", "b", figure=5.0)]
    assert exit_code(ok) == 0
    for bad in (Row("3", "c", figure=3.0, baseline=1.0, target=at_most(2.0)), Row("4", "d", missing="x"),
                Row("5", "e", error="boom")):
        assert exit_code([*ok, bad]) == 1
    assert summary([*ok, Row("4", "d", missing="x")])["MISSING"] == 1


def test_select_groups_by_number_name_or_full_name_keeps_run_order() -> None:
    groups = ["1:prompt-hook", "2:session-hook", "3:mcp", "6:worktrees"]
    assert select_groups(groups, None) == groups
    assert select_groups(groups, "mcp,1") == ["1:prompt-hook", "3:mcp"]
    assert select_groups(groups, "6:worktrees") == ["6:worktrees"]
    with pytest.raises(ValueError, match="unknown row group"):
        select_groups(groups, "7")


def test_interleaved_alternates_and_reverses() -> None:
    assert interleaved(["a", "b"], 3) == ["a", "b", "b", "a", "a", "b"]
    order = interleaved(["x", "y", "z"], 4)
    assert all(order.count(n) == 4 for n in "xyz")


def test_window_median_first_and_last() -> None:
    values = [5.0, 1.0, 3.0, 10.0, 20.0, 30.0, 100.0]
    assert window_median(values, 0, 3) == 3.0
    assert window_median(values, -3, 3) == 30.0
    with pytest.raises(ValueError):
        window_median(values, 10, 3)


def test_format_value_units() -> None:
    assert format_value(None, "ms") == "-"
    assert format_value(3.14159, "ms") == "3.14 ms"
    assert format_value(123.45, "ms") == "123.5 ms"
    assert format_value(12345.6, "msg/s") == "12,346 msg/s"
    assert format_value(2, "round trips") == "2 rt"
    assert format_value(64.25, "MiB") == "64.2 MiB"
    assert format_value(0.456, "%") == "0.46 %"


def test_table_has_a_line_per_row_and_shows_why_a_row_is_missing() -> None:
    rows = [Row("1", "hook", figure=30.0, baseline=10.0, baseline_label="python -c pass", target=at_most(3.0)),
            Row("6a", "setup", baseline=90.0, target=at_most(1.3), missing="coord.worktree not there")]
    text = format_table(rows)
    lines = text.splitlines()
    assert len(lines) == 4
    assert "3.00x" in lines[2] and "PASS" in lines[2] and "<= 3x" in lines[2]
    assert "MISSING: coord.worktree not there" in lines[3]
    md = markdown_table(rows)
    assert md.count("\n") == 3 and md.startswith("| row |")


def test_row_json_round_trips_with_status_and_ratio() -> None:
    row = Row("5", "throughput", unit="msg/s", figure=800.0, baseline=1000.0, target=at_least(0.5))
    data = json.loads(json.dumps(row.to_dict()))
    assert data["status"] == "PASS" and data["ratio"] == pytest.approx(0.8) and data["target"] == ">= 0.5x"


# -- row 9b's design (benchmarks/loop_cpu.py) ------------------------------------------------------
def test_the_tool_order_is_abba_blocks_so_a_steady_drift_weighs_on_both_tools_alike() -> None:
    from benchmarks.loop_cpu import tool_order

    order = tool_order(80, block=10)
    assert order[:10] == ["Read"] * 10 and order[10:30] == ["Glob"] * 20 and order[30:50] == ["Read"] * 20
    positions = {t: [i for i, name in enumerate(order) if name == t] for t in ("Read", "Glob")}
    assert len(positions["Read"]) == len(positions["Glob"]) == 40
    assert statistics.mean(positions["Read"]) == statistics.mean(positions["Glob"])  # a linear drift cancels


def test_the_added_cost_is_the_difference_of_differences_per_process() -> None:
    from benchmarks.loop_cpu import added_per_call

    measured = [{"cli": -6.0, "coord mcp": 0.7, "valkey": 0.2}, {"cli": -5.0, "coord mcp": 0.8, "valkey": 0.3},
                {"cli": -9.0, "coord mcp": 0.6, "valkey": 0.2}]
    baseline = [{"cli": -10.0, "coord mcp": 0.0}, {"cli": -11.0, "coord mcp": 0.1}, {"cli": -9.5, "coord mcp": 0.0}]
    added = added_per_call(measured, baseline)
    assert added == pytest.approx({"cli": 4.0, "coord mcp": 0.7, "valkey": 0.2})
