"""Rows 6c and 6d: reading the whole team, `coord agent.list --json` and `coord status --json`, with
N agents, against what a user would run by hand to learn the same from git: `git worktree list`
plus `git status --porcelain` in every worktree, run with the same parallelism coord uses
(coord.team.gather.GIT_WORKERS processes at once, through `xargs -P`).

All three are whole processes, sampled interleaved round by round (machine drift hits them alike).
The site is made realistic for the Redis side: every role registered, with a few messages and a
status update each, so the pipeline's replies are decoded, not empty.
"""

from __future__ import annotations

import json
import uuid

from benchmarks.context import Context
from benchmarks.core import Row, at_most, median
from benchmarks.fixture import Site
from benchmarks.infra import compare, run, script, time_process
from benchmarks.store_api import publish

TARGET = at_most(1.5)
BASELINE_LABEL = "worktree list + parallel git status"


def baseline_argv(workers: int) -> list[str]:
    """`git worktree list`, then `git status --porcelain` in each worktree, `workers` at a time.
    Same flags as coord's own status call (--no-optional-locks: never take an agent's index lock)."""
    pipeline = (
        "git worktree list --porcelain | sed -n 's/^worktree //p' | "
        f"xargs -d '\\n' -P {workers} -I{{}} git -C {{}} --no-optional-locks status --porcelain >/dev/null"
    )
    return ["sh", "-c", pipeline]


def populate(site: Site, roles: list[str]) -> None:
    """Every role registered in its checkout; two messages and one status update per role."""
    store = site.store()
    for role in roles:
        path = site.repo if role == site.main_role else site.repo / ".worktrees" / role
        store.register(role, str(uuid.uuid4()), str(path))
    for i, role in enumerate(roles):
        other = roles[(i + 1) % len(roles)]
        publish(store, role, other, "INFO", f"bench note {i} from {role}")
        publish(store, role, other, "QUESTION", f"bench question {i}: which file?")
        publish(store, role, site.main_role, "STATUS_UPDATE", f"{role} is on step {i}\nsecond line")


def team_reads(ctx: Context, site: Site, agents: int) -> list[Row]:
    """Rows 6c and 6d on a site whose `agents` agent worktrees are already set up."""
    from coord.team.gather import GIT_WORKERS

    list_row = Row("6c", f"agent.list --json, {agents} agents (process)", baseline_label=BASELINE_LABEL,
                   target=TARGET)
    status_row = Row("6d", f"coord status --json, {agents} agents (process)", baseline_label=BASELINE_LABEL,
                     target=TARGET)
    repo, env = site.repo, site.environ()
    populate(site, site.roles)
    coord = script("coord")
    listed = json.loads(run([coord, "agent.list", "--json"], cwd=repo, env=env).stdout)
    status = json.loads(run([coord, "status", "--json"], cwd=repo, env=env).stdout)["agents"]
    argv = baseline_argv(GIT_WORKERS)
    worktrees = run(["git", "worktree", "list", "--porcelain"], cwd=repo, env=env).stdout.decode().count("worktree ")
    rounds = ctx.n(9, 5)
    samples = compare({
        "baseline": lambda: time_process(argv, cwd=repo, env=env, timeout=120),
        "list": lambda: time_process([coord, "agent.list", "--json"], cwd=repo, env=env, timeout=120),
        "status": lambda: time_process([coord, "status", "--json"], cwd=repo, env=env, timeout=120),
    }, rounds=rounds, warmup=2)
    base = median(samples["baseline"]) * 1000
    for row, name in ((list_row, "list"), (status_row, "status")):
        row.baseline = base
        row.figure = median(samples[name]) * 1000
        row.details.update({
            "samples": rounds, "git_workers": GIT_WORKERS,
            f"{name}_ms": [round(t * 1000, 1) for t in samples[name]],
            "baseline_ms": [round(t * 1000, 1) for t in samples["baseline"]],
            "baseline_worktrees": worktrees,
        })
    list_row.details["agents_listed"] = len(listed)
    status_row.details["roles_shown"] = len(status)
    if len(listed) != agents:
        list_row.error = f"agent.list --json listed {len(listed)} agents, expected {agents}"
    if len(status) != agents + 1:
        status_row.error = f"coord status --json showed {len(status)} roles, expected {agents + 1}"
    if not all(a["presence"] == "active" for a in status):
        status_row.error = "coord status --json: not every registered role shows active"
    ctx.log(f"team reads: list {list_row.figure:.0f} ms, status {status_row.figure:.0f} ms, "
            f"baseline {base:.0f} ms")
    return [list_row, status_row]

