"""The cockpit's pure decisions: status rows, their order and text, the conflict matrix, the
launcher's plan and environment, the team settings and the command-line spreading of roles."""

from __future__ import annotations

import pytest

from coord.cli import spread_roles
from coord.config import Config, load_config
from coord.errors import ConfigError, InvalidInputError
from coord.presence import Status
from coord.team import launch
from coord.team.rows import (
    JSON_FIELDS,
    ClaimItem,
    GitFacts,
    RoleRecord,
    StatusNote,
    Stored,
    attention_order,
    build_rows,
    first_line,
    format_table,
    matrix,
)
from coord.team.tmux import Window, parse_version, parse_windows

ROLES = ("pm", "backend", "qa")
NOW = 1_000_000.0


def record(status: Status = Status.ACTIVE, activity: str = "", at: float = 0.0, host: str = "") -> RoleRecord:
    return RoleRecord(status, 3.0, "/w", activity, at, host)


def facts(branch: str = "agent/backend/active", dirty: bool | None = False, ahead: int | None = 1,
          behind: int | None = 2, path: str = "/repo/.worktrees/backend") -> GitFacts:
    return GitFacts(path, branch, "a" * 40, ahead, behind, dirty)


def test_rows_carry_every_fact_and_json_has_exactly_the_fields():
    stored = Stored(
        True, "",
        presence={"backend": record(activity="needs_input", at=NOW - 42, host="box2")},
        unread={"pm": 0, "backend": 3, "qa": 0},
        last_status={"backend": StatusNote("did the thing", NOW - 90)},
        claims=(ClaimItem("src/api/**", "backend", "live", "api", 60.0), ClaimItem("old", "backend", "expired", "", 0)),
    )
    rows = build_rows(ROLES, stored, {"backend": facts(dirty=True)}, {"backend": ["qa"]}, "here", NOW)
    assert [r.role for r in rows] == list(ROLES)
    backend = rows[1].to_json()
    assert tuple(backend) == JSON_FIELDS
    assert backend["presence"] == "active"
    assert backend["activity"] == {"state": "needs_input", "seconds": 42.0}
    assert backend["host"] == "box2"
    git_part = (backend["branch"], backend["ahead"], backend["behind"], backend["dirty"])
    assert git_part == ("agent/backend/active", 1, 2, True)
    assert backend["unread"] == 3
    assert backend["last_status"] == {"text": "did the thing", "seconds": 90.0}
    assert backend["claims"] == ["src/api/**"]  # the expired claim is not held
    assert backend["conflicts_with"] == ["qa"]
    qa = rows[2].to_json()
    assert qa["presence"] == "absent" and qa["activity"] is None and qa["host"] == "-" and qa["branch"] is None


def test_unknown_activity_and_unreachable_store_show_dashes():
    rows = build_rows(ROLES, Stored(False, "down"), {"pm": facts("main", path="/repo")}, {}, "here", NOW)
    assert rows[0].presence == "unknown" and rows[0].unread is None and rows[0].host == "here"
    table = format_table(rows)
    assert table.splitlines()[0].startswith("ROLE")
    assert "unknown" in table.splitlines()[1] and " - " in table.splitlines()[1]
    odd = build_rows(ROLES, Stored(True, presence={"pm": record(activity="dancing", at=NOW)}), {}, {}, "h", NOW)
    assert odd[0].activity == "" and odd[0].to_json()["activity"] is None


def test_attention_order_puts_needs_input_first_then_conflicts():
    stored = Stored(True, presence={
        "pm": record(activity="idle", at=NOW), "backend": record(activity="working", at=NOW),
        "qa": record(activity="needs_input", at=NOW)})
    rows = build_rows(ROLES, stored, {}, {"pm": ["backend"], "backend": ["pm"]}, "h", NOW)
    assert [r.role for r in attention_order(rows)] == ["qa", "pm", "backend"]


def test_matrix_is_symmetric_with_unknown_pairs_marked():
    grid = matrix(ROLES, {("pm", "backend"): "conflict", ("qa", "backend"): "touch"})
    assert grid[0] == ["", "conflict", "?"]
    assert grid[1] == ["conflict", "", "touch"]
    assert grid[2][1] == "touch" and grid[2][2] == ""


def test_first_line_skips_blank_lines_and_shortens():
    assert first_line("\n\n  hello\nworld") == "hello"
    assert first_line("x" * 200, width=10) == "x" * 9 + "…"


# -- the launcher ----------------------------------------------------------------------------------
def window(name: str, dead: bool = False) -> Window:
    return Window("@1", name, "%1", 10, dead, "/", "claude")


def test_plan_starts_only_what_is_missing_and_respawns_dead_panes():
    plan = launch.plan_up(["pm", "backend", "qa"], [window("backend"), window("qa", dead=True), window("zsh")])
    assert plan == launch.Plan(start=("pm",), respawn=("qa",), running=("backend",))


def test_agent_env_fixes_identity_and_passes_settings_on():
    env = launch.agent_env("qa", {"COORD_ROLE": "pm", "CLAUDE_INSTANCE_ID": "pm", "COORD_REDIS_URL": "redis://x",
                                  "PATH": "/bin", "SECRET_THING": "no", "COORD_TMUX_SOCKET": "s"})
    assert env["COORD_ROLE"] == "qa" and env["CLAUDE_INSTANCE_ID"] == "qa" and env["COORD_WAKE"] == "tmux"
    assert env["COORD_REDIS_URL"] == "redis://x" and env["PATH"] == "/bin"
    assert "SECRET_THING" not in env and "COORD_TMUX_SOCKET" not in env


def test_agent_argv_is_split_per_role_without_a_shell():
    config = Config(agent_command="claude --model x", agent_command_by_role=(("qa", "codex 'a b'"),))
    assert launch.agent_argv(config, "pm") == ["claude", "--model", "x"]
    assert launch.agent_argv(config, "qa") == ["codex", "a b"]
    with pytest.raises(InvalidInputError):
        launch.agent_argv(Config(agent_command="claude 'open"), "pm")


def test_choose_roles_defaults_to_team_and_checks_names():
    config = Config(roles=ROLES, team=("qa", "pm"))
    assert launch.choose_roles(config, []) == ["pm", "qa"]
    assert launch.choose_roles(Config(roles=ROLES), []) == list(ROLES)
    assert launch.choose_roles(config, ["qa", "backend"]) == ["backend", "qa"]
    with pytest.raises(InvalidInputError):
        launch.choose_roles(config, ["nobody"])


def test_up_roles_add_the_main_role_to_named_ones():
    config = Config(roles=ROLES, team=("qa",))
    assert launch.up_roles(config, []) == [config.main_role, "qa"]
    assert launch.up_roles(config, ["qa", "backend"]) == [config.main_role, "backend", "qa"]
    assert launch.up_roles(config, [config.main_role]) == [config.main_role]


def test_team_settings_from_toml_and_environment(tmp_path):
    (tmp_path / "coord.toml").write_text(
        'roles = ["pm", "backend", "qa"]\nteam = ["backend"]\nagent_command = "claude"\n'
        '[agent_command_by_role]\nqa = "codex"\n')
    config = load_config(tmp_path, {})
    assert config.team_roles() == ("backend",) and config.agent_command_for("qa") == "codex"
    config = load_config(tmp_path, {"COORD_AGENT_COMMAND_BY_ROLE": '{"backend": "gemini"}', "COORD_TEAM": "pm,qa"})
    assert config.agent_command_for("backend") == "gemini" and config.agent_command_for("qa") == "claude"
    assert config.team_roles() == ("pm", "qa")
    for bad in ('{"nobody": "x"}', "not json", '{"qa": ""}'):
        with pytest.raises(ConfigError):
            load_config(tmp_path, {"COORD_AGENT_COMMAND_BY_ROLE": bad})
    with pytest.raises(ConfigError):
        load_config(tmp_path, {"COORD_TEAM": "pm,ghost"})


def test_session_name_is_stable_and_tmux_safe(tmp_path):
    from coord.repo import RepoPaths

    paths = RepoPaths(tmp_path / "my.repo", tmp_path / "my.repo/.git", tmp_path / "my.repo/.git", tmp_path / "my.repo")
    name = launch.session_name(paths)
    assert name == launch.session_name(paths) and name.startswith("coord-my_repo-")
    assert "." not in name and ":" not in name


def test_tmux_parsing():
    assert parse_version("tmux 3.3a\n") == (3, 3) and parse_version("tmux next-3.4") == (3, 4)
    assert parse_version("garbage") is None
    parsed = parse_windows("@3\tqa\t%4\t123\t0\t/r/q\tclaude\nbroken line\n")
    assert parsed == [Window("@3", "qa", "%4", 123, False, "/r/q", "claude")]


def test_spread_roles_turns_words_into_role_flags():
    assert spread_roles(["team.up", "backend", "qa"]) == ["team.up", "--role", "backend", "--role", "qa"]
    assert spread_roles(["team.up", "--role", "x", "y"]) == ["team.up", "--role", "x", "--role", "y"]
    assert spread_roles(["team.attach", "qa", "agent.list"]) == ["team.attach", "--role", "qa", "agent.list"]
    assert spread_roles(["agent.setup", "qa"]) == ["agent.setup", "qa"]


def test_inside_server_compares_tmux_socket_with_the_team_server():
    from coord.team.tmux import inside_server

    assert inside_server("/tmp/tmux-0/default,123,4", "/tmp/tmux-0/default")
    assert not inside_server("/tmp/tmux-0/default,123,4", "/tmp/tmux-0/coord-private")  # another server
    assert not inside_server(None, "/tmp/tmux-0/default") and not inside_server("", "/tmp/tmux-0/default")
    assert not inside_server("/tmp/tmux-0/default,1,0", "")  # no team server running
