"""Row 6: `coord agent.setup` on a generated 20,000-file repository against a raw
`git worktree add -b` of the same repository in the same run; the 50th setup against the first;
then rows 6c/6d (benchmarks/rows_team.py) on the 50-agent repository: `coord agent.list --json`
and `coord status --json`.

Both sides are whole processes (what a user types), each creating a fresh worktree per sample.
"""

from __future__ import annotations

import os

from benchmarks.context import Context
from benchmarks.core import Row, at_most, median, window_median
from benchmarks.fixture import make_site, role_names
from benchmarks.infra import clean_env, git, make_repo, module_present, script, time_process, workspace
from benchmarks.rows_team import team_reads

WINDOW = 5  # the last setups and the twin first setups compared by the median of this many
# The 50-agent sequence runs on a smaller repository: 50 checkouts of 20,000 files are a million
# files to write and delete (about 3 s of deletion per worktree on these disks), which alone would
# break the 10-minute budget. Checkout cost is the same for every setup, so fewer files make coord's
# own growth with the number of agents a LARGER share of each setup: the ratio gets stricter.
SEQUENCE_FILES = 2_000


def settle() -> float:
    """Flush dirty pages (untimed) before a sample: after one checkout of 20,000 files the next
    one waits for that writeback (seen here: 1 s, then 15 s and 19 s for the same `git worktree
    add`), so without it each sample pays for the one before it."""
    import time

    start = time.perf_counter()
    os.sync()
    return time.perf_counter() - start


def _setup_ready() -> str | None:
    if not module_present("coord.worktree"):
        return "coord.worktree not there"
    from coord.tasks import agent

    if "setup" not in agent.collection.tasks:
        return "agent.setup task not there"
    return None


def worktrees(ctx: Context) -> list[Row]:
    files = ctx.n(20_000, 2_000)
    agents = ctx.n(50, 12)
    pairs = ctx.n(4, 2)  # even: each side first in half of the pairs
    setup_row = Row("6a", f"agent.setup, {files:,}-file repo (process)", baseline_label="git worktree add -b",
                    target=at_most(1.3))
    nth_row = Row("6b", f"agent.setup #{agents - WINDOW + 1}-{agents} (median), {SEQUENCE_FILES:,} files",
                  baseline_label="1st setup, twin repo, same time", target=at_most(1.5))
    missing = _setup_ready()
    coord = script("coord")
    with workspace("worktrees") as ws:
        roles = role_names(pairs, prefix="w")
        env = clean_env()
        if missing:
            repo = make_repo(ws.root / "repo", files=files)
        else:
            site = make_site(ws, roles, files=files)
            repo = site.repo
            env = site.environ()
        ctx.log(f"worktrees: {files:,}-file repository generated")
        raw_times: list[float] = []
        coord_times: list[float] = []
        # Interleaved pairs: a raw add of branch raw/i and coord's setup of role w-i, in alternating
        # order (raw first in even pairs, coord first in odd ones: on these disks a checkout can pay
        # for the writeback of the one before, so neither side may always come second); both
        # removed again so every sample sees the same repository.
        def raw_sample(i: int) -> None:
            raw_path = ws.root / f"raw-{i}"
            settle()
            raw_times.append(time_process(["git", "worktree", "add", "-q", "-b", f"raw/{i}", str(raw_path), "main"],
                                          cwd=repo, env=env, timeout=300))
            git(repo, "worktree", "remove", "--force", str(raw_path))

        def coord_sample(i: int) -> None:
            settle()
            coord_times.append(time_process([coord, "agent.setup", roles[i]], cwd=repo, env=env, timeout=300))
            git(repo, "worktree", "remove", "--force", str(repo / ".worktrees" / roles[i]))

        for i in range(pairs):
            order = [raw_sample] if missing else [raw_sample, coord_sample] if i % 2 == 0 else [coord_sample,
                                                                                                raw_sample]
            for sample in order:
                sample(i)
        setup_row.baseline = median(raw_times) * 1000
        setup_row.details["raw_ms"] = [round(t * 1000, 1) for t in raw_times]
        if missing:
            for r in (setup_row, nth_row):
                r.missing = missing
            return [setup_row, nth_row]
        setup_row.figure = median(coord_times) * 1000
        setup_row.details.update({"samples": pairs, "coord_ms": [round(t * 1000, 1) for t in coord_times]})
    with workspace("worktrees-seq") as ws:
        roles = role_names(agents, prefix="w")
        fresh_roles = role_names(WINDOW, prefix="x")
        site = make_site(ws, roles, files=SEQUENCE_FILES)
        # A twin repository that never holds more than one agent: its setups, taken right beside
        # the 48th-50th setups of the growing one, are "the first setup" measured at the same time,
        # so a burst of load cannot pass for growth (nor hide it).
        twin = make_site(ws, fresh_roles, files=SEQUENCE_FILES, name="twin")
        repo, env = site.repo, site.environ()
        sequence: list[float] = []
        firsts: list[float] = []
        for i, role in enumerate(roles):
            if i >= agents - WINDOW:
                x = fresh_roles[i - (agents - WINDOW)]
                settle()
                firsts.append(time_process([coord, "agent.setup", x], cwd=twin.repo, env=twin.environ(), timeout=300))
                git(twin.repo, "worktree", "remove", "--force", str(twin.repo / ".worktrees" / x))
            settle()
            sequence.append(time_process([coord, "agent.setup", role], cwd=repo, env=env, timeout=300))
            if (i + 1) % 10 == 0:
                ctx.log(f"worktrees: {i + 1}/{agents} agents set up")
        nth_row.figure = window_median(sequence, -WINDOW, WINDOW) * 1000
        nth_row.baseline = median(firsts) * 1000
        nth_row.details.update({
            "setup_ms": [round(t * 1000, 1) for t in sequence],
            "first_setup_ms_beside_last": [round(t * 1000, 1) for t in firsts],
            "sequence_first_window_ms": window_median(sequence, 0, WINDOW) * 1000,
        })
        team_rows = team_reads(ctx, site, agents)
    return [setup_row, nth_row, *team_rows]
