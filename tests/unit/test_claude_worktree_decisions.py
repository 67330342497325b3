"""Pure parts of routing Claude Code's worktrees through coord: which names are agents, the ad-hoc
registry's format, and the own_claude_worktrees setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from coord import adhoc, repo
from coord.claude_worktree import Agent, agent_for, with_role
from coord.config import Config, load_config, setting_fields
from coord.errors import ConfigError, InvalidInputError


def test_configured_role_main_role_adhoc_and_bad_names() -> None:
    config = Config()
    assert agent_for("backend", config) == Agent("backend", adhoc=False)
    assert agent_for("feat-1", config) == Agent("feat-1", adhoc=True)
    assert agent_for("agent-a19d1fe46fafc5e6e", config) == Agent("agent-a19d1fe46fafc5e6e", adhoc=True)
    with pytest.raises(InvalidInputError, match="main role"):
        agent_for("pm", config)
    for bad in ("Feat", "feat_1", "../x", "a/b", "-x", "", "x" * 33, None, 3):
        with pytest.raises(InvalidInputError, match="not a valid coord agent name"):
            agent_for(bad, config)


def test_a_recorded_adhoc_role_is_not_adhoc_twice() -> None:
    config = with_role(Config(), "feat1")
    assert config.roles[-1] == "feat1" and config.adhoc_roles == ("feat1",)
    assert agent_for("feat1", config) == Agent("feat1", adhoc=True)
    assert with_role(config, "feat1") == config and with_role(config, "qa") == config


def test_registry_text_keeps_wellformed_names_once_in_order() -> None:
    assert adhoc.parse("feat1\n\n  bad name\nBAD\nagent-x\nfeat1\n../etc\n") == ("feat1", "agent-x")
    assert adhoc.parse("") == ()


def test_registry_lives_in_coords_state_folder(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    assert adhoc.STATE_DIR == repo.STATE_DIR
    assert adhoc.registry_path(tmp_path) == tmp_path / ".git" / repo.STATE_DIR / adhoc.REGISTRY_FILE
    assert adhoc.read(tmp_path) == ()
    assert adhoc.add(tmp_path, "feat1") and not adhoc.add(tmp_path, "feat1")
    assert load_config(tmp_path, {}).adhoc_roles == ("feat1",)
    assert adhoc.remove(tmp_path, "feat1") and not adhoc.remove(tmp_path, "feat1")
    assert load_config(tmp_path, {}).roles == Config().roles


def test_own_claude_worktrees_is_a_documented_boolean_setting(tmp_path: Path) -> None:
    assert Config().own_claude_worktrees is True
    for raw, want in (("false", False), ("0", False), ("no", False), ("TRUE", True), ("on", True)):
        assert load_config(None, {"COORD_OWN_CLAUDE_WORKTREES": raw}).own_claude_worktrees is want
    with pytest.raises(ConfigError, match="true or false"):
        load_config(None, {"COORD_OWN_CLAUDE_WORKTREES": "maybe"})
    (tmp_path / "coord.toml").write_text("own_claude_worktrees = false\n")
    assert load_config(tmp_path, {}).own_claude_worktrees is False
    names = [f.name for f in setting_fields()]
    assert "own_claude_worktrees" in names and "adhoc_roles" not in names
    (tmp_path / "coord.toml").write_text('adhoc_roles = ["x"]\n')  # machine state, never a setting
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config(tmp_path, {})
