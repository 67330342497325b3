"""Issue 12, class 5: every git layout is supported or refused up front with one line, nothing
created. Real git in temp repositories, coord as a real process."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import HUMAN_EMAIL, ValkeyProcess, git, make_project, make_repo
from tests.stress.support import COORD, clean_env, one_line_refusal

pytestmark = pytest.mark.integration


def coord(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COORD, *args], cwd=cwd, env=clean_env(**env), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=180)


def everything(root: Path) -> dict[str, str]:
    """Every file, folder and link under root (git directories included), with its content."""
    found: dict[str, str] = {}
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            full = Path(folder) / name
            rel = os.path.relpath(full, root)
            if full.is_symlink():
                found[rel] = "link:" + os.readlink(full)
            elif full.is_dir():
                found[rel] = "dir"
            else:
                found[rel] = hashlib.sha1(full.read_bytes()).hexdigest()
    return found


def identify(repo: Path) -> None:
    git(repo, "config", "user.name", "Test Human")
    git(repo, "config", "user.email", HUMAN_EMAIL)
    git(repo, "config", "commit.gpgsign", "false")


# -- refused layouts: each builder returns the folder to run coord in ------------------------------------
def submodule(tmp: Path) -> Path:
    make_repo(tmp / "lib")
    make_repo(tmp / "app")
    git(tmp / "app", "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(tmp / "lib"), "lib")
    git(tmp / "app", "commit", "-qm", "add lib")
    return tmp / "app" / "lib"


def nested_submodule_folder(tmp: Path) -> Path:
    inside = submodule(tmp) / "deeper"
    inside.mkdir()
    return inside


def separate_git_dir(tmp: Path) -> Path:
    git(tmp, "init", "-q", "-b", "main", "--separate-git-dir", str(tmp / "store.git"), "work")
    identify(tmp / "work")
    (tmp / "work" / "a.txt").write_text("a\n")
    git(tmp / "work", "add", "a.txt")
    git(tmp / "work", "commit", "-qm", "a")
    return tmp / "work"


def separate_git_dir_named_dot_git(tmp: Path) -> Path:
    (tmp / "elsewhere").mkdir()
    git(tmp, "init", "-q", "-b", "main", "--separate-git-dir", str(tmp / "elsewhere" / ".git"), "work")
    identify(tmp / "work")
    git(tmp / "work", "commit", "-q", "--allow-empty", "-m", "a")
    return tmp / "work"


def symlinked_dot_git(tmp: Path) -> Path:
    make_repo(tmp / "real")
    (tmp / "work").mkdir()
    os.symlink(tmp / "real" / ".git", tmp / "work" / ".git")
    return tmp / "work"


def bare_with_checkout(tmp: Path) -> Path:
    make_repo(tmp / "src")
    git(tmp, "clone", "-q", "--bare", str(tmp / "src"), "repo.git")
    git(tmp / "repo.git", "worktree", "add", "-q", str(tmp / "checkout"), "main")
    return tmp / "checkout"


def bare_in_dot_git(tmp: Path) -> Path:
    make_repo(tmp / "src")
    (tmp / "proj").mkdir()
    git(tmp, "clone", "-q", "--bare", str(tmp / "src"), str(tmp / "proj" / ".git"))
    git(tmp / "proj", "worktree", "add", "-q", str(tmp / "proj" / "main"), "main")
    return tmp / "proj" / "main"


def core_worktree_set(tmp: Path) -> Path:
    make_repo(tmp / "repo")
    (tmp / "tree").mkdir()
    git(tmp / "repo", "config", "core.worktree", str(tmp / "tree"))
    return tmp / "repo"


def pruned_worktree(tmp: Path) -> Path:
    main = make_repo(tmp / "repo")
    git(main, "worktree", "add", "-q", "-b", "agent/qa/active", str(main / ".worktrees" / "qa"))
    (main / ".worktrees" / "qa").rename(tmp / "moved-by-hand")
    git(main, "worktree", "prune")
    return tmp / "moved-by-hand"


REFUSED: dict[str, tuple[Callable[[Path], Path], str]] = {
    "submodule": (submodule, "submodule"),
    "inside a submodule's subfolder": (nested_submodule_folder, "submodule"),
    "--separate-git-dir": (separate_git_dir, "separate from the checkout"),
    "--separate-git-dir named .git": (separate_git_dir_named_dot_git, "separate from the checkout"),
    ".git symlinked elsewhere": (symlinked_dot_git, "separate from the checkout"),
    "bare repository with a linked checkout": (bare_with_checkout, "bare repository"),
    "bare repository in .git with a linked checkout": (bare_in_dot_git, "bare repository"),
    "core.worktree set": (core_worktree_set, "core.worktree"),
    "a worktree git has forgotten": (pruned_worktree, "no longer knows this worktree"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unsupported_layouts_are_refused_with_one_line_and_nothing_created(tmp_path: Path, name: str) -> None:
    build, words = REFUSED[name]
    where = build(tmp_path)
    before = everything(tmp_path)
    for args in (("agent.setup", "backend"), ("agent.setup", "backend"), ("init",), ("agent.list",),
                 ("agent.merge", "backend"), ("agent.teardown", "backend", "--abandon"), ("session.start", "qa")):
        proc = coord(where, *args)
        assert proc.returncode == 9, (args, proc.stdout, proc.stderr)
        assert words in one_line_refusal(proc), (args, proc.stderr)
    assert everything(tmp_path) == before  # a rerun is refused the same way: nothing was created


# -- supported layouts: the whole loop works ---------------------------------------------------------
def agent_loop(main: Path, extra_env: dict[str, str] | None = None) -> None:
    """setup, a commit in the worktree, merge, teardown: every step exit 0, the commit on main."""
    env = extra_env or {}
    setup = coord(main, "agent.setup", "backend", **env)
    assert setup.returncode == 0, setup.stderr
    wt = main / ".worktrees" / "backend"
    (wt / "feature.txt").write_text("work\n")
    git(wt, "add", "feature.txt")
    git(wt, "commit", "-qm", "feature")
    merged = coord(main, "agent.merge", "backend", **env)
    assert merged.returncode == 0, merged.stderr
    assert git(main, "show", "HEAD:feature.txt").stdout == "work\n"
    down = coord(main, "agent.teardown", "backend", "--abandon", **env)
    assert down.returncode == 0, down.stderr
    assert not wt.exists()


def test_sparse_checkout_cone_is_supported(tmp_path: Path) -> None:
    src = make_repo(tmp_path / "src")
    for folder in ("api", "web"):
        (src / folder).mkdir()
        (src / folder / "x.txt").write_text(folder)
    git(src, "add", ".")
    git(src, "commit", "-qm", "two folders")
    git(tmp_path, "clone", "-q", str(src), "main")
    main = tmp_path / "main"
    identify(main)
    git(main, "sparse-checkout", "set", "api")
    assert not (main / "web").exists()
    agent_loop(main)


def test_sparse_checkout_non_cone_is_supported(tmp_path: Path) -> None:
    main = make_repo(tmp_path / "main")
    (main / "keep.txt").write_text("k")
    (main / "drop.txt").write_text("d")
    git(main, "add", ".")
    git(main, "commit", "-qm", "files")
    git(main, "sparse-checkout", "set", "--no-cone", "/*", "!/drop.txt")
    assert not (main / "drop.txt").exists()
    agent_loop(main)


def test_sparse_checkout_leaving_out_gitignore_keeps_its_rules(tmp_path: Path) -> None:
    """The committed .gitignore is not in the checkout: setup's line is added to its rules, not
    written in place of them (which would read as deleting every rule)."""
    main = make_repo(tmp_path / "main")
    (main / ".gitignore").write_text("node_modules/\n*.log\n")
    git(main, "add", ".gitignore")
    git(main, "commit", "-qm", "ignore rules")
    git(main, "sparse-checkout", "set", "--no-cone", "/*", "!/.gitignore")
    assert not (main / ".gitignore").exists()
    assert coord(main, "agent.setup", "backend").returncode == 0
    assert (main / ".gitignore").read_text() == "node_modules/\n*.log\n/.worktrees/\n"
    diff = git(main, "diff", "--numstat", "--", ".gitignore").stdout.split()
    assert diff[:2] == ["1", "0"]  # one line added, none removed


def test_shallow_clone_is_supported_for_worktrees(tmp_path: Path) -> None:
    src = make_repo(tmp_path / "src")
    for n in range(3):
        (src / f"f{n}").write_text(str(n))
        git(src, "add", ".")
        git(src, "commit", "-qm", f"c{n}")
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{src}", "main")
    main = tmp_path / "main"
    identify(main)
    assert (main / ".git" / "shallow").is_file()
    agent_loop(main)


def test_shallow_clone_on_a_shared_server_needs_a_namespace(tmp_path: Path, valkey: ValkeyProcess,
                                                            namespace: str) -> None:
    """Its root commit is not the project's: a derived namespace would split it from the team."""
    src = make_project(tmp_path / "src")
    (src / "more").write_text("x")
    git(src, "add", ".")
    git(src, "commit", "-qm", "more")
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{src}", "main")
    main = tmp_path / "main"
    refused = coord(main, "presence", COORD_REDIS_URL=valkey.url)
    assert refused.returncode == 8 and "shallow clone" in one_line_refusal(refused)
    named = coord(main, "presence", COORD_REDIS_URL=valkey.url, COORD_NAMESPACE=namespace)
    assert named.returncode == 0, named.stderr
    # Alone on its embedded server a shallow clone needs nothing: the choice is cached per clone.
    assert coord(main, "redis.status").returncode in (0, 5)


def test_repository_reached_through_a_symlinked_path_is_supported(tmp_path: Path) -> None:
    make_repo(tmp_path / "real")
    os.symlink(tmp_path / "real", tmp_path / "alias")
    agent_loop(tmp_path / "alias")


# -- the worktree folder ---------------------------------------------------------------------------
def _main_state(repo: Path) -> tuple[object, ...]:
    """What a refused setup must not touch in the main checkout and its repository."""
    gitignore = repo / ".gitignore"
    return (
        gitignore.read_bytes() if gitignore.exists() else None,
        git(repo, "config", "--local", "--list").stdout,
        git(repo, "worktree", "list", "--porcelain").stdout,
        git(repo, "for-each-ref").stdout,
        git(repo, "status", "--porcelain", "--ignored").stdout,
    )


def tracked_folder(repo: Path) -> None:
    (repo / "src").mkdir()
    (repo / "src" / "app.py").write_text("print()\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "src")
    (repo / "coord.toml").write_text('worktree_dir = "src"\n')


def tracked_file(repo: Path) -> None:
    (repo / "coord.toml").write_text('worktree_dir = "README.md"\n')


def tracked_submodule_path(repo: Path) -> None:
    make_repo(repo.parent / "lib")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(repo.parent / "lib"), "vendor")
    git(repo, "commit", "-qm", "vendor")
    (repo / "coord.toml").write_text('worktree_dir = "vendor"\n')


def symlink_outside(repo: Path) -> None:
    (repo.parent / "bigdisk").mkdir()
    os.symlink(repo.parent / "bigdisk", repo / ".worktrees")


def symlink_inside(repo: Path) -> None:
    (repo / "build").mkdir()
    os.symlink(repo / "build", repo / ".worktrees")


def symlinked_role_folder(repo: Path) -> None:
    (repo / ".worktrees").mkdir()
    (repo.parent / "elsewhere").mkdir()
    os.symlink(repo.parent / "elsewhere", repo / ".worktrees" / "backend")


def symlinked_nested_part(repo: Path) -> None:
    (repo / "tools").mkdir()
    os.symlink(repo.parent, repo / "tools" / "wt")
    (repo / "coord.toml").write_text('worktree_dir = "tools/wt"\n')


def outside_by_dots(repo: Path) -> None:
    (repo / "coord.toml").write_text('worktree_dir = "../agents"\n')


def outside_absolute(repo: Path) -> None:
    (repo / "coord.toml").write_text(f'worktree_dir = "{repo.parent / "agents"}"\n')


FOLDERS: dict[str, tuple[Callable[[Path], None], str]] = {
    "tracked folder": (tracked_folder, "git tracks"),
    "tracked file": (tracked_file, "git tracks"),
    "submodule path": (tracked_submodule_path, "git tracks"),
    "symlink to outside": (symlink_outside, "symbolic link"),
    "symlink inside": (symlink_inside, "symbolic link"),
    "symlinked role folder": (symlinked_role_folder, "symbolic link"),
    "symlink in a nested worktree_dir": (symlinked_nested_part, "symbolic link"),
    "outside by ..": (outside_by_dots, "inside the repository"),
    "absolute path": (outside_absolute, "inside the repository"),
}


@pytest.mark.parametrize("name", sorted(FOLDERS))
def test_worktree_folder_that_is_tracked_linked_or_outside_is_refused(tmp_path: Path, name: str) -> None:
    repo = make_repo(tmp_path / "repo")
    prepare, words = FOLDERS[name]
    prepare(repo)
    before, outside = _main_state(repo), everything(tmp_path)
    proc = coord(repo, "agent.setup", "backend")
    assert proc.returncode == 8, proc.stderr
    assert words in one_line_refusal(proc)
    assert _main_state(repo) == before and everything(tmp_path) == outside


def test_worktree_folder_under_a_tracked_folder_is_fine(tmp_path: Path) -> None:
    """Only the folder itself is ignored: docs/agents hides no tracked file of docs/."""
    repo = make_repo(tmp_path / "repo")
    (repo / "docs").mkdir()
    (repo / "docs" / "guide.md").write_text("g\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "docs")
    (repo / "coord.toml").write_text('worktree_dir = "docs/agents"\n')
    proc = coord(repo, "agent.setup", "backend")
    assert proc.returncode == 0, proc.stderr
    assert (repo / "docs" / "agents" / "backend" / "docs" / "guide.md").is_file()
    (repo / "docs" / "new.md").write_text("n\n")
    assert "docs/new.md" in git(repo, "status", "--porcelain", "-uall").stdout  # not hidden


# -- any worktree_dir: accepted and harmless, or refused with nothing changed ---------------------------
PARTS = ["src", "docs", "agents", ".worktrees", "README.md", "..", ".", ".git", "a b", "link", "sub"]


@settings(max_examples=30)
@given(parts=st.lists(st.sampled_from(PARTS), min_size=1, max_size=3), slash=st.booleans())
def test_any_worktree_dir_is_harmless_or_refused(tmp_path_factory: pytest.TempPathFactory, parts: list[str],
                                                 slash: bool) -> None:
    """Whatever worktree_dir says: setup refuses it (a ConfigError, exit 8, the repository untouched),
    or the worktree lands inside the repository and the new ignore line hides no tracked file and no
    file added later to a tracked folder."""
    from coord import worktree
    from coord.config import load_config
    from coord.errors import ConfigError
    from coord.repo import find_repo

    tmp = tmp_path_factory.mktemp("wtdir")
    repo = make_repo(tmp / "repo")
    for folder in ("src", "docs/sub"):
        (repo / folder).mkdir(parents=True)
        (repo / folder / "f.txt").write_text(folder)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "tracked folders")
    os.symlink(tmp, repo / "link")
    value = "/".join(parts) + ("/" if slash else "")
    state = everything(repo)
    try:
        config = load_config(repo, {"COORD_WORKTREE_DIR": value})
        result = worktree.setup(find_repo(repo), config, "backend")
    except ConfigError:
        assert everything(repo) == state
        return
    assert os.path.realpath(result.path).startswith(str(repo.resolve()) + "/")
    assert git(repo, "ls-files", "-ci", "--exclude-standard").stdout == ""  # no tracked file ignored
    for folder in ("", "src/", "docs/", "docs/sub/"):
        (repo / f"{folder}new-file.txt").write_text("n")
        assert f"{folder}new-file.txt" in git(repo, "status", "--porcelain", "-uall").stdout, (value, folder)
