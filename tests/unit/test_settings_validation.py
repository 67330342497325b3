"""Issue 12, class 6: settings are validated as a whole, one line per problem, exit 8."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coord.config import Config, load_config, validate
from coord.errors import ConfigError, SettingsError

INT_KEYS = ("presence_ttl_seconds", "stale_seconds", "heartbeat_seconds", "max_body_bytes", "recent_notifications",
            "claim_ttl_seconds", "repeat_limit", "repeat_window_seconds")


@given(beat=st.integers(1, 700), stale=st.integers(1, 700), ttl=st.integers(1, 700))
def test_timings_are_accepted_exactly_when_heartbeat_lt_stale_le_ttl(beat: int, stale: int, ttl: int) -> None:
    env = {"COORD_HEARTBEAT_SECONDS": str(beat), "COORD_STALE_SECONDS": str(stale),
           "COORD_PRESENCE_TTL_SECONDS": str(ttl)}
    if beat < stale <= ttl:
        config = load_config(None, env)
        assert (config.heartbeat_seconds, config.stale_seconds, config.presence_ttl_seconds) == (beat, stale, ttl)
    else:
        with pytest.raises(SettingsError) as caught:
            load_config(None, env)
        assert caught.value.exit_code == 8
        assert len(caught.value.problems) == (beat >= stale) + (stale > ttl)


@pytest.mark.parametrize("key", INT_KEYS)
@pytest.mark.parametrize("raw", ["1.5", "2.0", "true", "false", "1e3", "", "sixty", "-5", "0"])
def test_integers_from_toml_must_be_integers(tmp_path: Path, key: str, raw: str) -> None:
    (tmp_path / "coord.toml").write_text(f"{key} = {raw if raw not in ('', 'sixty') else repr(raw)}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, {})
    assert key in caught.value.line() and caught.value.exit_code == 8


@pytest.mark.parametrize("raw", ["1.5", "true", "yes", "", " ", "0x10", "6O", "-1", "0"])
def test_integers_from_the_environment_must_be_integers(raw: str) -> None:
    with pytest.raises(ConfigError, match="stale_seconds"):
        load_config(None, {"COORD_STALE_SECONDS": raw})


@given(value=st.one_of(st.booleans(), st.floats(allow_nan=True), st.text(max_size=8)))
def test_no_value_is_silently_turned_into_another_number(value: object) -> None:
    """Whatever a value is, it is either refused or read as exactly the number it spells."""
    raw = value if isinstance(value, str) else repr(value)
    plain = raw.strip().isascii() and raw.strip().isdigit() and int(raw) > 0
    try:
        config = load_config(None, {"COORD_REPEAT_LIMIT": raw})
    except ConfigError:
        assert not plain
        return
    assert plain and config.repeat_limit == int(raw)


def test_every_problem_is_reported_at_once_one_line_each(tmp_path: Path) -> None:
    (tmp_path / "coord.toml").write_text(
        'stale_seconds = 1.5\nheartbeat_seconds = 400\npresence_ttl_seconds = 100\nmystery = 1\n'
        'base_branch = "refs/heads/main"\nclaims_when_offline = "maybe"\n'
    )
    with pytest.raises(SettingsError) as caught:
        load_config(tmp_path, {"COORD_REPEAT_LIMIT": "true"})
    lines = caught.value.line().splitlines()
    assert all(line.startswith("coord: ") for line in lines)
    joined = "\n".join(lines)
    for words in ("stale_seconds must be a whole number", "unknown setting 'mystery'", "base_branch",
                  "claims_when_offline", "COORD_REPEAT_LIMIT"):
        assert words in joined, words
    # stale_seconds was refused, so no line judges the timings by its default (it would mislead).
    assert "must be smaller than stale_seconds" not in joined
    assert len(lines) == 5


@pytest.mark.parametrize("name", ["refs/heads/main", "HEAD", "-main", "main..dev", "a b", "x~1", "feat:x", "main/",
                                  "x.lock", "@"])
def test_base_branch_that_is_no_branch_name_is_refused(name: str) -> None:
    assert any("base_branch" in p for p in validate(Config(base_branch=name)))


@pytest.mark.parametrize("name", ["main", "develop", "release/2.0", "origin/main"])
def test_base_branch_names_that_could_be_local_pass_the_pure_check(name: str) -> None:
    """origin/main is a valid local branch name; whether it is one is asked of git (worktree.base)."""
    assert validate(Config(base_branch=name)) == []


@pytest.mark.parametrize("url", ["http://x", "redis://h:notaport/0", "redis://127.0.0.1:1/abc", "unix://", "nonsense"])
def test_a_redis_url_coord_cannot_use_is_a_setting_problem(url: str) -> None:
    """Exit 8 (the setting is wrong), not 2 (the command's input is fine)."""
    with pytest.raises(SettingsError, match="redis_url"):
        load_config(None, {"COORD_REDIS_URL": url})


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://u:p@h:1/2", "unix:///tmp/r.sock?db=3"])
def test_usable_redis_urls_pass(url: str) -> None:
    assert load_config(None, {"COORD_REDIS_URL": url}).redis_url == url
