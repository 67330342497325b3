"""Two clones of one project acting as two machines (different COORD_HOST) on one shared Redis:
the scenario the plain and the TLS + ACL tests both run. Every step is a real coord or hook
process, as an agent or a human on that machine would run it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import git
from tests.stress.support import agents_repo, clean_env, run_coord

HOOK = [sys.executable, "-m", "coord.hooks"]
CLAIM = """
import sys
from coord import claim_store
from coord.config import load_config
from coord.repo import find_repo
from coord.store import open_store
paths = find_repo('.')
with open_store(paths, load_config(paths.main_root)) as store:
    claim_store.claim(store, sys.argv[1], [sys.argv[2]], sys.argv[3], None)
"""


@dataclass
class Machine:
    name: str
    root: Path
    env: dict[str, str]

    def coord(self, *args: str, role: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **({"CLAUDE_INSTANCE_ID": role} if role else {})}
        return run_coord(cwd or self.root, *args, env=env)

    def tree(self, role: str) -> Path:
        return self.root / ".worktrees" / role

    def hook(self, event: str, role: str, session: str, cwd: Path, **payload: object) -> dict[str, object]:
        env = {**self.env, "CLAUDE_INSTANCE_ID": role, "CLAUDE_PROJECT_DIR": str(cwd)}
        stdin = json.dumps({"session_id": session, "cwd": str(cwd), **payload})
        proc = subprocess.run([*HOOK, event], cwd=cwd, env=env, input=stdin, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        return json.loads(proc.stdout) if proc.stdout.strip() else {}

    def claim(self, role: str, pattern: str, reason: str) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "CLAUDE_INSTANCE_ID": role}
        return subprocess.run([sys.executable, "-c", CLAIM, role, pattern, reason], cwd=self.tree(role), env=env,
                              capture_output=True, text=True, timeout=60)


def machines(tmp_path: Path, env_a: dict[str, str], env_b: dict[str, str]) -> tuple[Machine, Machine]:
    """Project origin at tmp/a (machine A) and its clone at tmp/b/elsewhere (machine B)."""
    a = agents_repo(tmp_path / "a" / "project", ("pm", "backend", "qa"))
    b = tmp_path / "b" / "elsewhere"
    git(tmp_path, "clone", "-q", str(a), str(b))
    for repo in (a, b):
        git(repo, "config", "user.email", "human@example.com")
        git(repo, "config", "user.name", "Test Human")
    return (Machine("box-a", a, clean_env(COORD_HOST="box-a", **env_a)),
            Machine("box-b", b, clean_env(COORD_HOST="box-b", **env_b)))


def presence(m: Machine) -> dict[str, dict[str, object]]:
    proc = m.coord("presence", "--json")
    assert proc.returncode == 0, proc.stderr
    return {row["role"]: row for row in json.loads(proc.stdout)}


def run_scenario(tmp_path: Path, env_a: dict[str, str], env_b: dict[str, str]) -> None:
    a, b = machines(tmp_path, env_a, env_b)

    # presence: backend works on machine A; machine B sees it, with A's host and path
    started = a.coord("session.start", "backend")
    assert started.returncode == 0, started.stderr
    assert a.hook("user-prompt-submit", "backend", "s-a", a.tree("backend"), prompt="go").get("decision") != "block"
    seen = presence(b)["backend"]
    assert (seen["status"], seen["host"], seen["session_id"]) == ("active", "box-a", "s-a")
    assert seen["worktree_path"] == str(a.tree("backend").resolve())

    # role-taking: one live holder team-wide; B is refused, naming A, and nothing is set up on B
    refused = b.coord("session.start", "backend")
    assert refused.returncode == 6 and "box-a" in refused.stderr, (refused.returncode, refused.stderr)
    assert not b.tree("backend").exists()
    assert b.coord("session.start", "qa").returncode == 0
    assert b.hook("user-prompt-submit", "qa", "s-b", b.tree("qa"), prompt="go").get("decision") != "block"
    assert presence(a)["qa"]["host"] == "box-b"

    # mail both ways
    sent = b.coord("msg.send", "backend", "QUESTION", "which schema, from box-b?", role="qa", cwd=b.tree("qa"))
    assert sent.returncode == 0, sent.stderr
    turn = a.hook("user-prompt-submit", "backend", "s-a", a.tree("backend"), prompt="next")
    assert "which schema, from box-b?" in json.dumps(turn)
    reply = a.coord("msg.send", "qa", "ANSWER", "v2, from box-a", role="backend", cwd=a.tree("backend"))
    assert reply.returncode == 0, reply.stderr
    inbox = b.coord("msg.inbox", "--json", role="qa", cwd=b.tree("qa"))
    assert [m["body"] for m in json.loads(inbox.stdout)["messages"]] == ["v2, from box-a"]

    # claims: A's claim blocks B's edit; B's claims show on A
    made = a.claim("backend", "src/api/**", "new schema")
    assert made.returncode == 0, made.stderr
    target = b.tree("qa") / "src" / "api" / "users.py"
    denied = b.hook("pre-tool-use", "qa", "s-b", b.tree("qa"), hook_event_name="PreToolUse", tool_name="Edit",
                    tool_input={"file_path": str(target), "old_string": "a", "new_string": "b"})
    assert "backend" in json.dumps(denied) and "new schema" in json.dumps(denied)
    overlap = b.claim("qa", "src/api/users.py", "tests")
    assert overlap.returncode != 0 and "ClaimConflictError" in overlap.stderr and "new schema" in overlap.stderr
    assert b.claim("qa", "tests/**", "tests").returncode == 0
    claims = json.loads(a.coord("agent.claims", "--json").stdout)["claims"]
    assert {c["pattern"]: c["role"] for c in claims} == {"src/api/**": "backend", "tests/**": "qa"}

    # mail for the main role waits in B's inbox; then B's folder moves: the mail is still there
    assert a.coord("msg.send", "pm", "STATUS_UPDATE", "backend half done", role="backend",
                   cwd=a.tree("backend")).returncode == 0
    moved = tmp_path / "b" / "moved-here"
    shutil.move(str(b.root), str(moved))
    inbox = run_coord(moved, "msg.inbox", "--json", env={**b.env, "CLAUDE_INSTANCE_ID": "pm"})
    assert inbox.returncode == 0, inbox.stderr
    assert [m["body"] for m in json.loads(inbox.stdout)["messages"]] == ["backend half done"]

    # a different project at B's old path (same folder name) sees nothing of this team
    other = agents_repo(b.root, ("pm", "backend", "qa"))
    stranger = Machine("box-b", other, b.env)
    assert {r["status"] for r in presence(stranger).values()} == {"absent"}
    empty = run_coord(other, "msg.inbox", "--json", env={**b.env, "CLAUDE_INSTANCE_ID": "pm"})
    assert json.loads(empty.stdout)["messages"] == []
    assert json.loads(stranger.coord("agent.claims", "--json").stdout)["claims"] == []
