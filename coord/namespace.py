"""Which Redis namespace a repository's team uses, when none is configured.

The namespace is the project, not the folder: every clone of a project on any machine must land
in the same keys, two projects at the same path must not, and moving the folder must change
nothing. So it is derived from history: the root commit reached by following FIRST parents from
the main checkout's HEAD (`git rev-list --first-parent --max-parents=0 HEAD`). First parents,
because merging an unrelated history in later adds a second root but leaves the first-parent
chain, and so the choice, unchanged; any rule over the set of roots (smallest id, oldest date)
could change when one is added.

A repository with no commit yet gets `u-<random>` chosen once and kept in the state file (so it
is stable for that repository and moves with its .git); at its first commit the namespace becomes
the root-derived one and the `u-` data is carried over (coord.carry_over), as is the data of the
namespace older coord versions derived from the path.

The choice is cached in <git common dir>/coord/namespace.json, read on every hook call instead of
starting git (stdlib only here). That file also lists the namespaces whose data is still to be
carried over; each is struck off once carried.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from coord.keys import clean_namespace
from coord.resp import items as _listed

if TYPE_CHECKING:
    from coord.repo import RepoPaths

NAMESPACE_FILE = "namespace.json"  # under the state dir (<git common dir>/coord)
ROOT = "root"
UNBORN = "unborn"


@dataclass(frozen=True)
class NamespaceChoice:
    """The namespace to use and the older ones whose data is still to be carried into it."""

    namespace: str
    source: str  # ROOT or UNBORN
    carry_from: tuple[str, ...] = ()


# -- pure -------------------------------------------------------------------------------------
def project_namespace(root_commit: str) -> str:
    """The same for every clone of the project: 16 hex digits of its root commit (64 bits)."""
    return clean_namespace(f"p-{root_commit[:16]}")


def unborn_namespace(token: str) -> str:
    return clean_namespace(f"u-{token[:16]}")


def legacy_namespace(main_root: Path, common_dir: Path) -> str:
    """The path-derived namespace of coord before 0.2: kept to find data to carry over."""
    digest = hashlib.sha1(str(common_dir).encode("utf-8")).hexdigest()[:10]
    return clean_namespace(f"{main_root.name}-{digest}")


def next_choice(stored: dict[str, object] | None, root: str | None, legacy: str, token: str) -> dict[str, object]:
    """The state to store, from what was stored (None: nothing yet), the root commit found now
    (None: no commit yet), the legacy namespace and a fresh random token (used only when unborn)."""
    carry = [str(x) for x in _listed(stored.get("carry"))] if stored else [legacy]
    if stored and stored.get("source") == ROOT:
        return stored
    if root is None:
        if stored:
            return stored
        return {"namespace": unborn_namespace(token), "source": UNBORN, "carry": carry}
    if stored:  # unborn until now: its data moves to the project's namespace
        carry.append(str(stored["namespace"]))
    ns = project_namespace(root)
    return {"namespace": ns, "source": ROOT, "root": root, "carry": [c for c in dict.fromkeys(carry) if c != ns]}


# -- effects ----------------------------------------------------------------------------------
def _file(paths: RepoPaths) -> Path:
    return paths.state_dir / NAMESPACE_FILE


def _read(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("namespace"), str) or not data["namespace"]:
        return None
    return data


def root_commit(main_root: Path) -> str | None:
    """The first-parent root commit of the main checkout's HEAD; None before the first commit (git
    exits 128 on an unborn HEAD), without git, or on any other git failure. Through coord.git's
    runner like every git call (cheap to import: this can run inside a hook, once per clone)."""
    from coord import git
    from coord.errors import CoordError

    try:
        result = git.run(main_root, "rev-list", "--first-parent", "--max-parents=0", "HEAD", "--", timeout=30)
    except CoordError:
        return None
    lines = result.stdout.split()
    return lines[-1] if lines else None


def _write(path: Path, data: dict[str, object], exclusive: bool) -> dict[str, object]:
    """Write atomically. exclusive: only if no file exists yet (two first users choosing a random
    unborn token at once must end up with the same one); returns what is stored afterwards."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}")
    tmp.write_text(json.dumps(data, sort_keys=True) + "\n", encoding="utf-8")
    try:
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return _read(path) or data
        else:
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return data


def resolve(paths: RepoPaths) -> NamespaceChoice:
    """The namespace for a repository with no `namespace` setting. One small file read when the
    choice is already made; otherwise one git process and a write."""
    path = _file(paths)
    stored = _read(path)
    if stored is None or stored.get("source") != ROOT:
        root = root_commit(paths.main_root)
        if root is not None or stored is None:
            legacy = legacy_namespace(paths.main_root, paths.common_dir)
            wanted = next_choice(stored, root, legacy, uuid.uuid4().hex)
            try:
                stored = _write(path, wanted, exclusive=stored is None and root is None)
            except OSError:
                stored = wanted  # read-only git dir: still the right name, carried over each time
    assert stored is not None
    carry = tuple(str(c) for c in _listed(stored.get("carry")) if c != stored["namespace"])
    return NamespaceChoice(str(stored["namespace"]), str(stored.get("source", ROOT)), carry)


def mark_carried(paths: RepoPaths, old: str) -> None:
    """Strike old off the list of namespaces still to carry over (its data is in the new one)."""
    path = _file(paths)
    stored = _read(path)
    if stored is None:
        return
    carry = [str(c) for c in _listed(stored.get("carry")) if c != old]
    if carry != stored.get("carry"):
        with contextlib.suppress(OSError):
            _write(path, {**stored, "carry": carry}, exclusive=False)
