"""The benchmark runner's own decisions: row selection on the command line, error rows, the JSON
written beside the table, and the role names the fixtures configure."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from benchmarks import run
from benchmarks.core import Row, Status, at_most
from benchmarks.fixture import role_names, toml_roles
from coord.config import load_config
from coord.identity import check_role_syntax


def test_every_issue_row_group_is_registered_in_order() -> None:
    numbers = [name.split(":")[0] for name in run.GROUPS]
    assert numbers == ["1", "2", "3", "4", "5", "6", "7", "8", "9"]


def test_list_prints_the_groups(capsys: pytest.CaptureFixture[str]) -> None:
    assert run.main(["--list"]) == 0
    assert capsys.readouterr().out.split() == list(run.GROUPS)


def test_unknown_group_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run.main(["--only", "99"]) == 2
    assert "unknown row group '99'" in capsys.readouterr().err


def test_a_crashing_group_becomes_one_error_row(capsys: pytest.CaptureFixture[str]) -> None:
    def boom(ctx: object) -> list[Row]:
        raise RuntimeError("valkey did not start\nsecond line")

    rows = run.run_group("5:throughput", boom, run.Context(quick=True))
    assert len(rows) == 1
    assert rows[0].id == "5" and rows[0].status is Status.ERROR
    assert rows[0].error == "RuntimeError: valkey did not start"


def test_exception_groups_are_unwrapped_to_the_first_real_error() -> None:
    inner = ValueError("Connection closed")
    group = BaseExceptionGroup("unhandled errors in a TaskGroup", [ExceptionGroup("x", [inner])])
    assert run.describe_exception(group) == "ValueError: Connection closed"


def test_results_are_written_twice_with_the_same_content(tmp_path: Path) -> None:
    row = Row("1", "hook", figure=30.0, baseline=12.0, target=at_most(3.0))
    payload = {"rows": [row.to_dict()], "machine": {"cores": 2}}
    path = run.write_results(tmp_path / "results", payload, "20260101T000000Z")
    assert path.name == "bench-20260101T000000Z.json"
    latest = tmp_path / "results" / "latest.json"
    assert json.loads(path.read_text()) == json.loads(latest.read_text())
    assert json.loads(latest.read_text())["rows"][0]["status"] == "PASS"


def test_role_names_are_valid_distinct_and_configurable() -> None:
    names = role_names(200, prefix="s")
    assert len(set(names)) == 200
    for name in names:
        check_role_syntax(name)
    parsed = tomllib.loads(toml_roles(["pm", *names]))
    assert parsed["roles"][:2] == ["pm", "s-001"]
    config = load_config(None, {"COORD_ROLES": ",".join(["pm", *names])})
    assert len(config.roles) == 201
