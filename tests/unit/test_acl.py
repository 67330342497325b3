"""The ACL's command list is the code's: every command coord sends (Lua redis.call, pipelines) is
listed, and nothing else is."""

from __future__ import annotations

import re
from pathlib import Path

import coord
from coord import acl

ROOT = Path(coord.__file__).parent
LUA = re.compile(r"redis\.p?call\(\s*'([A-Za-z]+)'")
# a command in a Python list sent to Redis: [["HGETALL", ...]] or ["WAIT", n, ms] / ["PING"]
PY = re.compile(r"\[\s*\"([A-Z]{3,})\"\s*[,\]]")
NOT_SENT_TO_A_SHARED_SERVER = {"embedded.py", "acl.py"}  # own server (INFO, SHUTDOWN); the admin line
NOT_COMMANDS = {"CONFLICTS", "INFO"}  # a table header (tasks/agent.py) and a message type in tests of it


def _code_commands() -> set[str]:
    found: set[str] = set()
    for path in ROOT.rglob("*.py"):
        if path.name in NOT_SENT_TO_A_SHARED_SERVER:
            continue
        text = path.read_text(encoding="utf-8")
        found |= {m.upper() for m in LUA.findall(text)}
        found |= set(PY.findall(text)) - NOT_COMMANDS
    return found


def test_the_acl_lists_exactly_the_commands_the_code_sends() -> None:
    assert set(acl.COMMANDS) - {"AUTH"} == _code_commands() - {"AUTH"}
    assert list(acl.COMMANDS) == sorted(acl.COMMANDS)


def test_the_line_grants_one_project_and_nothing_administrative() -> None:
    line = acl.setuser_line("box-a", "p-0123456789abcdef", "s3cret")
    assert line.startswith("ACL SETUSER box-a reset on >s3cret ~coord:{p-0123456789abcdef}:* resetchannels -@all +")
    assert not any(f"+{c}" in line.split() for c in ("config", "flushall", "keys", "shutdown", "@all", "info"))
    assert acl.setuser_line("box-a").split()[4:7] == ["on", ">PASSWORD", "~coord:*"]


def test_readme_shows_the_line_the_code_makes() -> None:
    readme = (ROOT.parent / "README.md").read_text(encoding="utf-8")
    assert acl.setuser_line("box-a", password="box-a-password") + "\n" in readme
