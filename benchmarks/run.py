"""`nox -s bench` (or `python benchmarks/run.py [--quick] [--only 1,3]`): run every row, print the
table, write results/bench-<UTC>.json and results/latest.json, exit 1 when a row misses its target.

Every target is a ratio to a baseline measured in the same run (machines here are noisy); the
absolute figures are reported beside the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# Run as a script, Python puts benchmarks/ first on sys.path; the package is imported from the root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from benchmarks import (  # noqa: E402
    rows_cockpit,
    rows_hooks,
    rows_loop,
    rows_mcp,
    rows_memory,
    rows_scale,
    rows_throughput,
    rows_worktrees,
)
from benchmarks.context import Context  # noqa: E402
from benchmarks.core import Row, exit_code, format_table, markdown_table, select_groups, summary  # noqa: E402
from benchmarks.infra import REPO_ROOT, machine_info, pressure  # noqa: E402

GROUPS: dict[str, Callable[[Context], list[Row]]] = {
    "1:prompt-hook": rows_hooks.prompt_hook,
    "2:session-hook": rows_hooks.session_hook,
    "3:mcp": rows_mcp.mcp_calls,
    "4:scale": rows_scale.scale,
    "5:throughput": rows_throughput.throughput,
    "6:worktrees": rows_worktrees.worktrees,
    "7:memory": rows_memory.memory,
    "8:cockpit": rows_cockpit.cockpit,
    "9:team-loop": rows_loop.team_loop,
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma list of row groups by number or name, e.g. 1,3 or mcp,scale")
    parser.add_argument("--quick", action="store_true", help="smaller samples and inputs, for iterating")
    parser.add_argument("--list", action="store_true", help="list the row groups and exit")
    parser.add_argument("--results", default=str(REPO_ROOT / "results"), help="folder for the JSON (git-ignored)")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    return parser.parse_args(argv)


def describe_exception(exc: BaseException) -> str:
    """One line for the table: the first real error inside anyio's exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:200]


def run_group(name: str, fn: Callable[[Context], list[Row]], ctx: Context) -> list[Row]:
    """One group; a crash of the harness becomes an ERROR row instead of losing the others."""
    ctx.log(f"{name}: start")
    started = time.monotonic()
    try:
        rows = fn(ctx)
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        number, _, title = name.partition(":")
        rows = [Row(number, title, error=describe_exception(exc))]
    for row in rows:
        row.details.setdefault("group_seconds", round(time.monotonic() - started, 1))
    ctx.log(f"{name}: done in {time.monotonic() - started:.1f}s")
    return rows


def write_results(folder: Path, payload: dict[str, object], stamp: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=2, default=str)
    path = folder / f"bench-{stamp}.json"
    path.write_text(text + "\n")
    (folder / "latest.json").write_text(text + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.list:
        print("\n".join(GROUPS))
        return 0
    try:
        chosen = select_groups(list(GROUPS), args.only)
    except ValueError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    ctx = Context(quick=args.quick)
    started = datetime.now(UTC)
    machine = machine_info()
    ctx.log(f"machine: {machine['cores']} cores, Python {machine['python']}, git {machine['git']}, "
            f"valkey {machine['valkey']}, coord {machine['coord_commit']}")
    rows: list[Row] = []
    for name in chosen:
        rows.extend(run_group(name, GROUPS[name], ctx))
    duration = time.monotonic() - ctx.started
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    payload: dict[str, object] = {
        "started": started.isoformat(),
        "duration_seconds": round(duration, 1),
        "quick": args.quick,
        "groups": chosen,
        "command": "nox -s bench" + (" -- " + " ".join(sys.argv[1:]) if sys.argv[1:] else ""),
        "machine": machine,
        # Other work on the machine skews absolute figures (ratios less so): judge them with this.
        "load_average_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "pressure_end": pressure(),
        "summary": summary(rows),
        "rows": [r.to_dict() for r in rows],
    }
    path = write_results(Path(args.results), payload, stamp)
    print()
    print(format_table(rows))
    if args.markdown:
        print()
        print(markdown_table(rows))
    counts = summary(rows)
    print()
    print(f"{len(rows)} rows in {duration:.0f} s: " + ", ".join(f"{v} {k}" for k, v in counts.items() if v)
          + f"{' (quick run)' if args.quick else ''}. JSON: {path}")
    return exit_code(rows)


if __name__ == "__main__":
    sys.exit(main())
