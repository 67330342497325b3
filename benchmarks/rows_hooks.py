"""Rows 1 and 2: the Claude Code hooks as whole processes, against `python -c pass`.

The hook is fed the JSON Claude Code sends on stdin, runs in the role's worktree with
CLAUDE_INSTANCE_ID set, with 20 agents registered and 5 pending messages. Each sample of the
per-prompt hook sees 5 NEW messages (published untimed just before it), its heaviest normal path.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

from benchmarks.context import Context
from benchmarks.core import Row, at_most, median
from benchmarks.fixture import Site, make_site, role_names
from benchmarks.infra import (
    Workspace,
    clean_env,
    compare,
    git,
    module_present,
    run,
    script,
    time_process,
    workspace,
)
from benchmarks.store_api import ack_all, publish

AGENTS = 20
PENDING = 5
ROLE = "backend"
BASELINE = [sys.executable, "-c", "pass"]
BASELINE_LABEL = "python -c pass"
NEEDED = ("coord.hooks", "coord.store")


def _missing() -> str | None:
    absent = [m for m in NEEDED if not module_present(m)]
    if absent:
        return f"{', '.join(absent)} not there"
    from coord import hooks

    if not hasattr(hooks, "main") or "Placeholder" in (hooks.__doc__ or ""):
        return "coord.hooks is a placeholder"
    return None


def _baseline_only(ctx: Context, row: Row) -> list[Row]:
    env = clean_env()
    samples = compare({"base": lambda: time_process(BASELINE, env=env)}, rounds=ctx.n(30, 10))
    row.baseline = median(samples["base"]) * 1000
    return [row]


def _stdin(event: str, session_id: str, cwd: Path) -> bytes:
    payload: dict[str, object] = {
        "session_id": session_id,
        "transcript_path": f"/tmp/coord-bench/{session_id}.jsonl",
        "cwd": str(cwd),
        "hook_event_name": event,
    }
    if event == "UserPromptSubmit":
        payload["prompt"] = "Carry on with the task, and tell me what changed."
    elif event == "SessionStart":
        payload["source"] = "startup"
    return json.dumps(payload).encode()


def _setup(ws: Workspace, ctx: Context) -> tuple[Site, Path, str]:
    others = role_names(AGENTS - 1)
    site = make_site(ws, [ROLE, *others])
    if _init_available():
        # The rendered hooks (.claude/hooks/*.sh), committed before the worktree is made, as users do.
        run([script("coord"), "init"], cwd=site.repo, env=site.environ(), timeout=60)
        git(site.repo, "add", "-A")
        git(site.repo, "commit", "-q", "-m", "coord init")
    worktree = site.worktree(ROLE)
    store = site.store()
    session_id = str(uuid.uuid4())
    store.register(ROLE, session_id, str(worktree))
    for role in others:
        store.register(role, str(uuid.uuid4()), str(site.repo / ".worktrees" / role))
    ctx.log(f"hooks: site up ({site.server}), {AGENTS} agents registered")
    return site, worktree, session_id


def _init_available() -> bool:
    from coord.tasks import rules

    return "init" in {t.name for t in rules.top_level} if hasattr(rules, "top_level") else False


def _refill(site: Site, sequence: list[int]) -> None:
    """Exactly PENDING pending messages for the role, all of them new to its hook."""
    store = site.store()
    ack_all(store, ROLE)
    sequence[0] += 1
    senders = role_names(AGENTS - 1)
    for i in range(PENDING):
        publish(store, senders[i % len(senders)], ROLE, "INFO", f"bench note {sequence[0]}-{i}: build is green")


def _measure(ctx: Context, event: str, arg: str, row: Row, check_output) -> list[Row]:  # type: ignore[no-untyped-def]
    missing = _missing()
    if missing:
        row.missing = missing
        return _baseline_only(ctx, row)
    with workspace(f"hook-{arg}") as ws:
        site, worktree, session_id = _setup(ws, ctx)
        env = site.environ({"CLAUDE_INSTANCE_ID": ROLE, "CLAUDE_CODE_SESSION_ID": session_id,
                            "CLAUDE_PROJECT_DIR": str(worktree)})
        hook = [script("coord-hook"), arg]
        stdin = _stdin(event, session_id, worktree)
        sequence = [0]
        _refill(site, sequence)
        first = run(hook, cwd=worktree, env=env, stdin=stdin, timeout=30)
        problem = check_output(first.stdout.decode(errors="replace"), sequence[0])
        if problem:
            row.error = problem
            row.details["stdout"] = first.stdout.decode(errors="replace")[:500]
            row.details["stderr"] = first.stderr.decode(errors="replace")[:500]
            return _baseline_only(ctx, row)
        base_env = clean_env()
        runs = {"base": lambda: time_process(BASELINE, env=base_env),
                "hook": lambda: time_process(hook, cwd=worktree, env=env, stdin=stdin)}
        refills = {"hook": lambda: _refill(site, sequence)}
        client_row = None
        if arg == "user-prompt-submit":
            client_row, with_redispy = _redispy_variant(row, worktree, env, stdin, site, sequence, check_output)
            if with_redispy is not None:
                runs["redispy"] = with_redispy
                refills["redispy"] = lambda: _refill(site, sequence)
        samples = compare(runs, rounds=ctx.n(40, 10), before_each=refills)
        extra = _as_claude_code_runs_it(ctx, arg, worktree, env, stdin, site, sequence)
        if client_row is not None:
            if "redispy" in samples:
                client_row.figure = median(samples["redispy"]) * 1000
                client_row.baseline = median(samples["hook"]) * 1000
                client_row.note = (f"redis-py costs {client_row.figure - client_row.baseline:.0f} ms more per prompt "
                                   f"than coord's RESP client")
                client_row.details["samples"] = len(samples["redispy"])
            extra.insert(0, client_row)
        row.figure = median(samples["hook"]) * 1000
        row.baseline = median(samples["base"]) * 1000
        row.note = f"own cost over the interpreter: {row.figure - row.baseline:.0f} ms"
        row.details.update({
            "own_cost_ms": row.figure - row.baseline,
            "samples": len(samples["hook"]),
            "hook_min_ms": min(samples["hook"]) * 1000,
            "baseline_min_ms": min(samples["base"]) * 1000,
            "server": site.server,
            "agents_registered": AGENTS,
            "pending_messages": PENDING,
        })
    return [row, *extra]


def _redispy_variant(row: Row, worktree: Path, env: dict[str, str], stdin: bytes, site: Site,
                     sequence: list[int], check_output):  # type: ignore[no-untyped-def]
    """Row 1c and its sampler: the same hook with redis-py as the client (benchmarks/hook_redispy.py),
    checked first to take the same normal path (it shows the 5 new messages)."""
    client_row = Row("1c", "  same, redis-py in place of coord's RESP client",
                     baseline_label="row 1's hook, same run")
    if not module_present("redis"):
        client_row.missing = "redis-py not installed (pip install -e '.[dev]')"
        return client_row, None
    argv = [sys.executable, str(Path(__file__).resolve().parent / "hook_redispy.py"), "user-prompt-submit"]
    _refill(site, sequence)
    first = run(argv, cwd=worktree, env=env, stdin=stdin, timeout=30)
    problem = check_output(first.stdout.decode(errors="replace"), sequence[0])
    if problem:
        client_row.error = f"redis-py variant: {problem}"
        client_row.details["stderr"] = first.stderr.decode(errors="replace")[:500]
        return client_row, None
    return client_row, lambda: time_process(argv, cwd=worktree, env=env, stdin=stdin)


def _as_claude_code_runs_it(ctx: Context, arg: str, worktree: Path, env: dict[str, str], stdin: bytes,
                            site: Site, sequence: list[int]) -> list[Row]:
    """Report: the command Claude Code runs (sh -c on the rendered .claude/hooks script, which
    execs whatever coord-hook PATH finds first), with the PATH of the user running the benchmark."""
    import os
    import shutil

    hook_script = worktree / ".claude" / "hooks" / "coord-hook.sh"
    number = "1b" if arg == "user-prompt-submit" else "2b"
    row = Row(number, f"  same, as Claude Code runs it (sh + .claude/hooks/coord-hook.sh {arg})",
              baseline_label=BASELINE_LABEL)
    if not hook_script.exists():
        row.missing = f"no rendered {hook_script.name} (coord init)"
        return [row]
    user_env = {**env, "PATH": os.environ.get("PATH", "")}
    found = shutil.which("coord-hook", path=user_env["PATH"]) or "not found"
    argv = ["/bin/sh", "-c", f'"$CLAUDE_PROJECT_DIR"/.claude/hooks/coord-hook.sh {arg}']
    base_env = clean_env()
    samples = compare(
        {"base": lambda: time_process(BASELINE, env=base_env),
         "wrapped": lambda: time_process(argv, cwd=worktree, env=user_env, stdin=stdin)},
        rounds=ctx.n(20, 5),
        before_each={"wrapped": lambda: _refill(site, sequence)},
    )
    row.figure = median(samples["wrapped"]) * 1000
    row.baseline = median(samples["base"]) * 1000
    row.note = f"{row.figure - row.baseline:.0f} ms over the interpreter; coord-hook on PATH: {found}"
    row.details["coord_hook_on_path"] = found
    return [row]


def prompt_hook(ctx: Context) -> list[Row]:
    row = Row("1", "UserPromptSubmit hook process (20 agents, 5 new msgs)", baseline_label=BASELINE_LABEL,
              target=at_most(3.0))

    def check(stdout: str, seq: int) -> str | None:
        if f"bench note {seq}-0" not in stdout:
            return "the hook did not show the new messages (not the normal path)"
        if '"decision"' in stdout and '"block"' in stdout:
            return "the hook blocked the prompt"
        return None

    return _measure(ctx, "UserPromptSubmit", "user-prompt-submit", row, check)


def session_hook(ctx: Context) -> list[Row]:
    row = Row("2", "SessionStart hook process (20 agents, 5 pending)", baseline_label=BASELINE_LABEL,
              target=at_most(5.0))

    def check(stdout: str, seq: int) -> str | None:
        if ROLE not in stdout:
            return "the hook's context does not name the role (not the normal path)"
        return None

    return _measure(ctx, "SessionStart", "session-start", row, check)
