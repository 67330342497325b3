"""Row 9b: the CPU one coord_hook call adds to a tool call, every process counted, measured inside
sessions rather than between them.

Whole-session CPU of `claude -p` varies by several ms per tool call from one session to the next
on this machine, more than the 2 ms budget, so the difference of two sessions (still noted beside
the row) cannot tell it. Here each session calls two cheap tools, Read and Glob, in blocks of ten
(ABBA), and the CPU of every process (the CLI, coord mcp, Valkey; nanoseconds from
/proc/PID/task/*/schedstat) is read at every model request, so each interval is one tool call. In
the measured session the PostToolUse hook (as rendered, mcp_tool) has the matcher "Read": Read calls
run it, Glob calls do not. In the baseline session there is no loop hook. Added CPU per call =
(Read - Glob) measured - (Read - Glob) baseline, per process, from the mean intervals: one hook call,
with the drift within and between sessions gone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from statistics import mean
from typing import Any

from benchmarks.core import median
from benchmarks.infra import children_of, cmdline

LOOP_EVENTS = ("PostToolUse", "PostToolUseFailure", "Stop", "Notification")
PROCESSES = ("cli", "coord mcp", "valkey")


def cpu_ns(pid: int) -> int | None:
    """CPU time of every thread of pid, ns; None once it is gone."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children_of(current)
    return found


class Probe:
    """Reads the CPU of the session's processes at each model request (called from the scripted
    model's thread while the CLI waits for its answer)."""

    def __init__(self, valkey_pid: int) -> None:
        self.pids: dict[str, int] = {"valkey": valkey_pid}
        self.samples: list[dict[str, int]] = []

    def __call__(self) -> None:
        if "cli" not in self.pids:
            for pid in children_of(os.getpid()):
                if any("claude" in part for part in cmdline(pid)[:1]):
                    self.pids["cli"] = pid
        if "cli" in self.pids and "coord mcp" not in self.pids:
            for pid in descendants(self.pids["cli"]):
                words = " ".join(cmdline(pid))
                if "python" in words and "mcp" in words:
                    self.pids["coord mcp"] = pid
        row = {name: ns for name, pid in self.pids.items() if (ns := cpu_ns(pid)) is not None}
        self.samples.append(row)

    def by_tool(self, tools: list[str], skip: int = 4) -> dict[str, dict[str, list[float]]]:
        """{tool: {process: [ms of each interval after that tool's call]}}. Interval j runs from
        request j to request j+1: the call answered at request j, its hooks, the next request."""
        out: dict[str, dict[str, list[float]]] = {t: {} for t in set(tools)}
        for j, (a, b) in enumerate(zip(self.samples, self.samples[1:], strict=False)):
            if j < skip or j >= len(tools):
                continue
            for name in PROCESSES:
                if name in a and name in b:
                    out[tools[j]].setdefault(name, []).append((b[name] - a[name]) / 1e6)
        return out


def hooked_on_read(settings: Path) -> None:
    """The rendered loop hooks, with PostToolUse limited to Read (the measured session)."""
    data = json.loads(settings.read_text())
    for group in data["hooks"]["PostToolUse"]:
        group["matcher"] = "Read"
    data["hooks"].pop("PostToolUseFailure", None)
    settings.write_text(json.dumps(data, indent=2))


BLOCK = 10  # calls of one tool in a row


def tool_order(calls: int, block: int = BLOCK) -> list[str]:
    """Read and Glob in blocks, ABBA (R G G R R G G R ...): a steady drift over the session (the
    history each request carries grows with every call) weighs on both tools alike."""
    pattern = ["Read"] * block + ["Glob"] * block + ["Glob"] * block + ["Read"] * block
    return [pattern[i % len(pattern)] for i in range(calls)]


def block_steps(tree: Path, calls: int, probe: Probe) -> tuple[list[Any], list[str]]:
    from tests.e2e.model import Text, ToolCall

    names = tool_order(calls)
    by_name = {"Read": ToolCall("Read", {"file_path": str(tree / "README.md")}),
               "Glob": ToolCall("Glob", {"pattern": "README.md"})}
    order = iter(names)

    def step(_request: dict[str, Any]) -> Any:
        probe()
        return by_name[next(order)]

    def last(_request: dict[str, Any]) -> Any:
        probe()
        return Text("done")

    return [step] * calls + [last], names


def read_minus_glob(run: Callable[[list[Any]], None], tree: Path, calls: int, valkey_pid: int) -> dict[str, float]:
    """One session: per process, mean interval after Read minus mean after Glob, ms. Means, not
    medians: a hook's cost includes what it leaves for later (garbage, deferred writes), which lands
    in a later interval, mostly of the same block, and shows as rare long ones."""
    probe = Probe(valkey_pid)
    steps, names = block_steps(tree, calls, probe)
    run(steps)
    split = probe.by_tool(names, skip=BLOCK)
    return {p: mean(split["Read"][p]) - mean(split["Glob"][p])
            for p in PROCESSES if split["Read"].get(p) and split["Glob"].get(p)}


def added_per_call(measured: list[dict[str, float]], baseline: list[dict[str, float]]) -> dict[str, float]:
    """Median over the rounds of each process's difference of differences; a process that is not in
    the baseline session's picture (no hook: coord mcp idles either way) counts from zero."""
    out: dict[str, float] = {}
    for name in PROCESSES:
        m = [r[name] for r in measured if name in r]
        b = [r[name] for r in baseline if name in r]
        if m:
            out[name] = median(m) - (median(b) if b else 0.0)
    return out
