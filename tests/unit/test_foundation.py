"""Floor-1 decisions: config precedence, role rules, identity resolution, staleness, messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from coord.config import DEFAULT_ROLES, load_config
from coord.errors import ConfigError, IdentityError, InvalidInputError
from coord.identity import (
    resolve_identity,
    role_email,
    role_from_email,
    validate_role,
)
from coord.keys import Keys
from coord.messages import MessageType, check_body, parse_type
from coord.presence import PresenceRecord, Status, effective_status, is_stale, may_claim
from coord.repo import find_repo

BAD_ROLES = ["../x", "-rf", "a b", "x$(id)", "HEAD", "", "a" * 200, "bäckend", "Backend", "1abc", "x/y"]


@pytest.mark.parametrize("role", BAD_ROLES)
def test_bad_roles_are_refused(role: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        validate_role(role, (*DEFAULT_ROLES, role))
    assert "\n" not in info.value.line()


def test_unknown_but_wellformed_role_names_the_choices() -> None:
    with pytest.raises(InvalidInputError, match="unknown role 'ops'") as info:
        validate_role("ops", DEFAULT_ROLES)
    assert "backend" in info.value.line()


def test_email_round_trips_to_role() -> None:
    for role in DEFAULT_ROLES:
        assert role_from_email(role_email(role)) == role
    assert role_from_email("human@example.com") is None
    assert role_from_email(None) is None


def test_identity_prefers_instance_id_and_refuses_contradiction() -> None:
    assert resolve_identity({"CLAUDE_INSTANCE_ID": "backend"}, None, DEFAULT_ROLES).role == "backend"
    assert resolve_identity({}, role_email("qa"), DEFAULT_ROLES).source == "git user.email"
    with pytest.raises(IdentityError, match="belongs to frontend"):
        resolve_identity({"CLAUDE_INSTANCE_ID": "backend"}, role_email("frontend"), DEFAULT_ROLES)
    with pytest.raises(IdentityError):
        resolve_identity({}, "human@example.com", DEFAULT_ROLES)


def test_config_precedence_env_over_file_over_default(tmp_path: Path) -> None:
    (tmp_path / "coord.toml").write_text('roles = ["pm", "api"]\nstale_seconds = 90\n')
    config = load_config(tmp_path, {"COORD_STALE_SECONDS": "120"})
    assert config.roles == ("pm", "api")
    assert config.stale_seconds == 120
    assert config.heartbeat_seconds == 60
    assert load_config(tmp_path, {"COORD_ROLES": "pm, web"}).roles == ("pm", "web")


@pytest.mark.parametrize(
    ("toml", "env"),
    [
        ("stale_seconds = 'soon'\n", {}),
        ("bogus = 1\n", {}),
        ("roles = ['pm', '../x']\n", {}),
        ("", {"COORD_MAIN_ROLE": "boss"}),
        ("roles = [", {}),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path: Path, toml: str, env: dict[str, str]) -> None:
    (tmp_path / "coord.toml").write_text(toml)
    with pytest.raises(ConfigError):
        load_config(tmp_path, env)


def test_staleness_boundary_is_stale() -> None:
    assert not is_stale(1000.0, 1299.999, 300)
    assert is_stale(1000.0, 1300.0, 300)
    record = PresenceRecord("qa", "s1", "/w", 900.0, 1000.0, Status.ACTIVE)
    assert effective_status(record, 1299.0, 300) is Status.ACTIVE
    assert effective_status(record, 1300.0, 300) is Status.STALE
    assert effective_status(None, 0, 300) is Status.ABSENT
    inactive = PresenceRecord("qa", "s1", "/w", 900.0, 1000.0, Status.INACTIVE)
    assert effective_status(inactive, 1001.0, 300) is Status.INACTIVE


def test_a_live_role_cannot_be_claimed_by_another_session() -> None:
    record = PresenceRecord("qa", "s1", "/w", 900.0, 1000.0, Status.ACTIVE)
    assert may_claim(record, "s1", 1001.0, 300)
    assert not may_claim(record, "s2", 1001.0, 300)
    assert may_claim(record, "s2", 1300.0, 300)
    assert may_claim(None, "s2", 0.0, 300)


def test_message_types_and_bodies() -> None:
    assert parse_type("question") is MessageType.QUESTION
    with pytest.raises(InvalidInputError, match="unknown message type"):
        parse_type("GOSSIP")
    assert check_body("héllo\x00{}", 100) == "héllo\x00{}"
    for bad in ("", "   ", "x" * 101, "\ud800", b"bytes"):
        with pytest.raises(InvalidInputError):
            check_body(bad, 100)


def test_keys_share_one_hash_tag() -> None:
    keys = Keys("my repo{x}")
    names = [keys.presence, keys.alive("qa"), keys.inbox("qa"), keys.pending("qa"), keys.events]
    tags = {name[name.index("{") + 1 : name.index("}")] for name in names}
    assert tags == {"my_repo_x_"}


def test_find_repo_in_main_and_linked_worktree(git_repo: Path) -> None:
    import subprocess

    subprocess.run(["git", "worktree", "add", "-q", "-b", "w", str(git_repo / "wt")], cwd=git_repo, check=True)
    main = find_repo(git_repo)
    linked = find_repo(git_repo / "wt")
    assert main.is_main and not linked.is_main
    assert linked.main_root == main.main_root == git_repo.resolve()
    assert linked.common_dir == main.common_dir
    assert linked.default_namespace() == main.default_namespace()


def test_a_role_acts_only_from_its_own_checkout() -> None:
    from coord.identity import check_checkout

    check_checkout("pm", "/r", "/r", "pm", ".worktrees")
    check_checkout("qa", "/r/.worktrees/qa", "/r", "pm", ".worktrees")
    for role, top in [("qa", "/r"), ("qa", "/r/.worktrees/backend"), ("pm", "/r/.worktrees/pm")]:
        with pytest.raises(IdentityError, match="must work in"):
            check_checkout(role, top, "/r", "pm", ".worktrees")
