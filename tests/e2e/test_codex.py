"""coord with the real Codex CLI (`codex exec`): the committed .codex/config.toml (coord's MCP server)
and .codex/hooks.json (trusted explicitly, tests/e2e/clis.py), against the scripted Responses API."""

from __future__ import annotations

import json

import pytest

from coord import claim_store
from coord.catalog import codex
from tests.conftest import git
from tests.e2e import clis
from tests.e2e.clis import Agents
from tests.e2e.codex_model import CodexModel
from tests.e2e.model import Text, ToolCall

pytestmark = [pytest.mark.e2e, pytest.mark.clis]

agents = clis.agents
codex_bin = clis.codex_bin
gemini_bin = clis.gemini_bin


def tool_json(output: str) -> dict:
    """The JSON a coord tool returned, as Codex reports a call's output (after a header)."""
    start = output.find("{")
    assert start >= 0, output
    return dict(json.loads(output[start:]))


def test_tools_listed_callable_and_presence_ends_inactive(agents: Agents) -> None:
    ws = agents.ws
    tree = agents.worktree("qa")
    with CodexModel([ToolCall("coord_get_presence"), Text("all checked")]) as model:
        run = agents.codex(tree, "who is working?", model, "qa")
    assert run.code == 0 and "all checked" in run.stdout, run.stdout + run.stderr
    assert model.errors == [], model.errors
    seen = tool_json(model.outputs()[-1])
    assert seen["you"] == "qa", seen
    qa = next(r for r in seen["roles"] if r["role"] == "qa")
    assert qa["status"] == "active"  # registered by the SessionStart hook before the model ran
    record = ws.presence("qa")
    assert record is not None and record["status"] == "inactive", record  # SessionEnd hook
    assert not record["session_id"].startswith("mcp-"), record  # the hooks own presence, not the MCP server
    kinds = [e.get("type") for e in ws.events() if e.get("sender") == "qa"]
    assert "SESSION_START" in kinds and "SESSION_END" in kinds, kinds


def test_wrong_identity_is_refused_before_the_model_is_called(agents: Agents) -> None:
    tree = agents.worktree("qa")
    with CodexModel([Text("should never be asked")]) as model:
        run = agents.codex(tree, "do something", model, "backend")  # backend's identity in qa's worktree
    assert model.main_requests == [], "the model was called although the identity is wrong"
    # `codex exec` prints that the prompt hook blocked, not its reason (the TUI shows the reason)
    assert "UserPromptSubmit Blocked" in run.stderr, run.stderr


def test_message_from_a_claude_role_is_shown_at_the_next_turn(agents: Agents) -> None:
    tree = agents.worktree("qa")
    with agents.ws.store() as store:
        store.publish("backend", "qa", "REVIEW_REQUEST", "please review the /orders endpoint (token c0d3x)")
    with CodexModel([Text("reviewing")]) as model:
        run = agents.codex(tree, "next task", model, "qa")
    assert run.code == 0, run.stdout + run.stderr
    shown = model.all_main_text()
    assert "token c0d3x" in shown and "from backend" in shown and "REVIEW_REQUEST" in shown


def test_edit_of_a_claimed_file_is_denied_naming_the_holder(agents: Agents) -> None:
    ws = agents.ws
    (ws.repo / "src").mkdir()
    (ws.repo / "src" / "api.py").write_text("routes = []\n")
    git(ws.repo, "add", "src/api.py")
    git(ws.repo, "commit", "-q", "-m", "api")
    tree = agents.worktree("qa")
    with ws.store() as store:
        store.register("backend", "backend-session", str(ws.repo / ".worktrees" / "backend"))
        claim_store.claim(store, "backend", ["src/**"], "reworking the API routes", 900)
    patch = "*** Begin Patch\n*** Update File: src/api.py\n@@\n-routes = []\n+routes = ['x']\n*** End Patch\n"
    free = "*** Begin Patch\n*** Add File: notes.txt\n+qa notes\n*** End Patch\n"
    steps = [ToolCall("apply_patch", {"patch": patch}), ToolCall("apply_patch", {"patch": free}), Text("done")]
    with CodexModel(steps) as model:
        run = agents.codex(tree, "fix the routes", model, "qa")
    assert run.code == 0, run.stdout + run.stderr
    denied, allowed = model.outputs()[-2:]
    assert "backend" in denied and "reworking the API routes" in denied and "src/api.py" in denied, denied
    assert (tree / "src" / "api.py").read_text() == "routes = []\n"  # not edited
    assert (tree / "notes.txt").read_text() == "qa notes\n", allowed  # an unclaimed file is edited normally


def test_doctor_explains_codex_trust_with_a_fix_that_works(agents: Agents) -> None:
    """Untrusted: doctor names what Codex will not run and prints one command; running it (what
    accepting Codex's prompts records) makes doctor, and Codex, agree that coord's hooks run."""
    import os
    import subprocess

    tree = agents.worktree("qa")
    agents.write_codex_config("http://127.0.0.1:9")  # a config with no trust at all
    env = {**agents.codex_env("qa"), "COORD_CODEX_BIN": agents.codex_bin}

    def doctor() -> str:
        done = agents.ws.coord(tree, "doctor", "--skip-mcp")
        return next(line for line in (done.stdout + done.stderr).splitlines() if line.split()[1:2] == ["codex"])

    original = agents.ws.base_env
    agents.ws.base_env = lambda: env  # type: ignore[method-assign]
    fixes = []
    try:
        for _ in range(3):  # the folder, then the hooks, then nothing left to fix
            line = doctor()
            if line.startswith("ok"):
                break
            fixes.append(line)
            assert "or run: printf" in line, line
            fix = line.split("or run: ", 1)[1].rstrip(")")
            subprocess.run(["sh", "-c", fix], check=True, env=os.environ.copy())
        assert line.startswith("ok") and f"runs coord's {len(codex.HOOKS)} hooks" in line, line
        assert fixes and "does not trust" in fixes[0], fixes  # it did start untrusted
    finally:
        agents.ws.base_env = original  # type: ignore[method-assign]


def test_mail_that_arrives_mid_turn_is_shown_after_the_next_tool_call(agents: Agents) -> None:
    """A message sent while the agent works reaches it after its next tool call (PostToolUse), in the
    same turn, not only at the next prompt."""
    ws = agents.ws
    tree = agents.worktree("qa")

    def send_then_work(_body: dict) -> ToolCall:
        with ws.store() as store:
            store.publish("backend", "qa", "QUESTION", "is /orders covered? (token mid-turn-77)")
        return ToolCall("coord_get_presence")

    with CodexModel([send_then_work, Text("answered")]) as model:
        run = agents.codex(tree, "keep testing", model, "qa")
    assert run.code == 0 and "answered" in run.stdout, run.stdout + run.stderr
    assert model.errors == [], model.errors
    first = model.texts(model.main_requests[0])
    assert "mid-turn-77" not in first  # not there at the prompt: it was sent during the turn
    after_call = next(r for r in model.main_requests
                      if any(i.get("type") == "function_call_output" for i in r.get("input", [])))
    assert "mid-turn-77" in model.texts(after_call), "not delivered right after the tool call"
