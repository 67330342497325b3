"""Hostile-input properties shared by the fast suite (small budgets) and `nox -s stress` (large).

Each `check_*` function takes one generated input and asserts the contract of issue 7: the
input is refused with one CoordError line or accepted as valid; nothing outside the worktree
folder changes; no ref outside agent/* and refs/coord/* moves; no command runs (payloads try
to create a marker file); accepted message bodies come back byte for byte.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from coord.config import Config, load_config
from coord.errors import CoordError, InvalidInputError
from coord.messages import LIFECYCLE_TYPES, MessageType
from coord.repo import RepoPaths, find_repo
from tests.conftest import git
from tests.stress.support import Snapshot, confined, snapshot

ROLES = ("pm", "backend", "frontend")
MARKER = "PWNED"  # payloads try to create <tmp>/PWNED; its existence means a command ran


def nasty(marker: Path) -> list[str]:
    """The strings issue 7 names, plus shell and ref tricks aimed at the marker file."""
    m = str(marker)
    return [
        "../x", "-x", "--upload-pack=x", f"--upload-pack=touch {m}", f"x$(touch {m})", f"x;touch {m}",
        f"`touch {m}`", f"$(touch {m})", "HEAD", "main", ".", "..", " ", "", "a b", "a\nb", "a\0b", "a\tb",
        "ünïcödé", "x" * 1000, "a" * 32, "a" * 33, "agent/x/active", "refs/heads/main", "backend/../pm",
        "backend\n", " backend", "BACKEND", "-", "--", "@", "@{-1}", "HEAD~1", ":/initial", "main^{tree}",
        "x-", "x..y", "x.lock", "pm", "backend", "frontend", "../../../../etc/passwd", "\x7f", "\u202e",
        "x\r\ny", "%s%n", "{}", "*", "?", "[a]",
    ]


def strings(marker: Path) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(nasty(marker)),
        st.text(max_size=40),
        st.from_regex(r"[a-z][a-z0-9-]{0,40}", fullmatch=True),
        st.text(alphabet="abm./-$()`;\n\0 @{}^~:", max_size=16),
        st.builds(lambda a, b: a + b, st.sampled_from(["backend", "pm", "main", "HEAD", "-", "../"]),
                  st.text(max_size=8)),
    )


@dataclass
class Scene:
    """A repository with roles pm/backend/frontend, backend already set up (so .gitignore holds
    the worktree folder), and the snapshot every later run is compared with."""

    repo: Path
    paths: RepoPaths
    config: Config
    marker: Path
    before: Snapshot
    tried: dict[str, int] = field(default_factory=dict)

    def count(self, what: str) -> None:
        self.tried[what] = self.tried.get(what, 0) + 1

    def assert_untouched(self) -> None:
        assert not self.marker.exists(), "a payload ran a command"
        problems = confined(self.before, snapshot(self.repo))
        assert problems == [], problems


def make_scene(tmp_path: Path) -> Scene:
    from coord import worktree
    from tests.stress.support import agents_repo

    repo = agents_repo(tmp_path / "repo", ROLES)
    paths = find_repo(repo)
    config = load_config(paths.main_root, {})
    worktree.setup(paths, config, "backend")
    return Scene(repo, paths, config, tmp_path / MARKER, snapshot(repo))


def _refused(exc: CoordError) -> None:
    line = exc.line()
    assert "\n" not in line and line.startswith("coord: "), line


def check_role(scene: Scene, role: str) -> None:
    """Every worktree operation with a generated role: refused (one line) unless it is configured."""
    from coord import worktree

    ops: list[tuple[str, Callable[[], Any]]] = [
        ("setup", lambda: worktree.setup(scene.paths, scene.config, role)),
        ("merge", lambda: worktree.merge(scene.paths, scene.config, role)),
        ("teardown", lambda: worktree.teardown(scene.paths, scene.config, role, warn=lambda _l: None)),
        ("restore", lambda: worktree.restore(scene.paths, scene.config, role)),
    ]
    for name, op in ops:
        scene.count(f"role/{name}")
        try:
            op()
            accepted = True
        except CoordError as exc:
            _refused(exc)
            accepted = False
            if role not in ROLES:
                assert isinstance(exc, InvalidInputError), (role, exc.line())
        if role not in ROLES:
            assert not accepted, f"{name} accepted role {role!r}"
    if role == "frontend":  # a valid role may have made a worktree: leave the scene as it was
        _drop_worktree(scene, role)
    scene.assert_untouched()


def _drop_worktree(scene: Scene, role: str) -> None:
    path = scene.repo / ".worktrees" / role
    git(scene.repo, "worktree", "remove", "--force", str(path), check=False)
    git(scene.repo, "branch", "-D", f"agent/{role}/active", check=False)
    for ref in git(scene.repo, "for-each-ref", "--format=%(refname)", f"refs/coord/backup/{role}/").stdout.split():
        git(scene.repo, "update-ref", "-d", ref)


def expected_base(repo: Path, base: str) -> str | None:
    """What git itself says the base names (independently of coord), None when no commit."""
    if not base or base.startswith("-") or "\0" in base:
        return None
    out = subprocess.run(["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{base}^{{commit}}"],
                         cwd=repo, capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def check_base(scene: Scene, base: str) -> None:
    """agent.setup --base with a generated ref: a worktree at exactly that commit, or one line."""
    from coord import worktree

    scene.count("base")
    want = expected_base(scene.repo, base)
    try:
        result = worktree.setup(scene.paths, scene.config, "frontend", base=base)
    except CoordError as exc:
        _refused(exc)
        assert want is None, f"refused a base git resolves: {base!r} -> {want}"
    else:
        assert want is not None, f"accepted a base git does not resolve: {base!r}"
        head = git(result.path, "rev-parse", "HEAD").stdout.strip()
        assert head == want
        _drop_worktree(scene, "frontend")
    scene.assert_untouched()


# -- message bodies and types -------------------------------------------------------------------------
def bodies() -> st.SearchStrategy[Any]:
    text = st.text(st.characters(codec=None, exclude_categories=()), max_size=300)
    return st.one_of(
        text,
        st.text(st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=50),  # control characters
        st.sampled_from(["", " ", "\n", "\t\r\n", "\0", "\ud800", "a\udfffb", '{"sender": "pm"}', "null", "[]",
                         "$(id)", "\x1b[31mred\x1b[0m", "\u202eevil", "x" * 65536, "x" * 65537, "é" * 32768,
                         "é" * 32769, "line1\r\nline2\rline3\n", "\U0001F600" * 100]),
        st.binary(max_size=40),
        st.builds(lambda n: "y" * n, st.integers(65530, 65540)),
        st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                     max_leaves=8).map(json.dumps),
    )


def types() -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from([t.value for t in MessageType]),
                     st.sampled_from(["info", " INFO ", "Info\n", "INF", "", "ALL", "HEARTBEAT", "ınfo", "ﬁle"]),
                     st.text(max_size=20), st.integers(), st.none())


def body_ok(body: Any, limit: int) -> bool:
    """The documented rule, written independently: text, not blank, valid UTF-8, <= limit bytes."""
    if not isinstance(body, str) or not body.strip():
        return False
    try:
        return len(body.encode("utf-8")) <= limit
    except UnicodeEncodeError:
        return False


def type_ok(kind: Any) -> MessageType | None:
    if isinstance(kind, str):
        try:
            return MessageType(kind.strip().upper())
        except ValueError:
            return None
    return None


def check_store_message(store: Any, body: Any, kind: Any, tried: dict[str, int]) -> None:
    """Through the store: accepted exactly when valid, and what comes back is what was sent."""
    tried["body/store"] = tried.get("body/store", 0) + 1
    want_type = type_ok(kind)
    want = body_ok(body, store.config.max_body_bytes) and want_type is not None
    try:
        sent = store.publish("backend", "pm", kind, body)
    except CoordError as exc:
        _refused(exc)
        assert not want, f"refused a valid message: {kind!r} {body!r:.80}"
        return
    assert want, f"accepted an invalid message: {kind!r} {body!r:.80}"
    assert sent.type == want_type and sent.sender == "backend"
    if want_type in LIFECYCLE_TYPES:
        got = [m for m in store.events(5) if m.id == sent.ids["events"]]
    else:
        got = [m for m in store.check("pm", limit=1000).messages if m.id == sent.ids["pm"]]
        store.ack("pm", [sent.ids["pm"]])
    assert len(got) == 1
    assert got[0].body.encode("utf-8") == body.encode("utf-8")
    assert (got[0].sender, got[0].type) == ("backend", want_type.value)


# -- hook stdin ------------------------------------------------------------------------------------------
def payloads() -> st.SearchStrategy[bytes]:
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3), max_leaves=10)
    fields = st.fixed_dictionaries({}, optional={
        "session_id": st.one_of(st.text(max_size=300), json_values),
        "cwd": st.one_of(st.sampled_from(["/", "/tmp", "..", "", "/nonexistent"]), st.text(max_size=30), json_values),
        "hook_event_name": st.one_of(st.sampled_from(["SessionStart", "UserPromptSubmit", "SessionEnd", "Stop"]),
                                     st.text(max_size=20)),
        "source": st.one_of(st.sampled_from(["startup", "resume", "clear", "compact", "fork"]), json_values),
        "reason": json_values, "prompt": st.text(max_size=200), "transcript_path": json_values,
    })
    return st.one_of(
        fields.map(lambda d: json.dumps(d).encode()),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
        st.sampled_from([b"", b"{", b"}", b"{}" * 3, b"\xff\xfe", b'{"session_id": "\\ud800"}', b"\0" * 10,
                         b'{"session_id": "s", "cwd": "\\u0000"}']),
    )


def run_hook_inprocess(event: str, data: bytes, environ: dict[str, str]) -> tuple[int, str, str]:
    """`coord-hook EVENT` in this process with data on stdin (the handlers are what is tested; the
    process-level limits are tested with real processes elsewhere)."""
    import os

    from coord import hooks

    saved_stdin, saved_env = sys.stdin, dict(os.environ)
    out, err = io.StringIO(), io.StringIO()
    try:
        sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="surrogateescape")
        os.environ.clear()
        os.environ.update(environ)
        with redirect_stdout(out), redirect_stderr(err):
            code = hooks.main([event])
    finally:
        sys.stdin = saved_stdin
        os.environ.clear()
        os.environ.update(saved_env)
    return code, out.getvalue(), err.getvalue()


def check_hook(event: str, data: bytes, environ: dict[str, str], tried: dict[str, int]) -> None:
    tried["hook"] = tried.get("hook", 0) + 1
    code, out, err = run_hook_inprocess(event, data, environ)
    assert code == 0
    assert "Traceback" not in err and "internal error" not in err, err
    if out.strip():
        reply = json.loads(out)
        assert isinstance(reply, dict)
        if reply.get("decision") == "block":  # only another live session holding the role may block
            assert "held by another live session" in reply["reason"], reply
