"""Merges honour repository policy (issue 12, class 7): `agent.merge` and `agent.sync` run the
pre-merge-commit, prepare-commit-msg, commit-msg and post-merge hooks as `git merge` does, and sign
their merge commits when commit.gpgsign is set (real ssh and gpg keys); a hook that refuses, or a
signature that cannot be made, refuses the merge with the reason and changes nothing."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from coord import sync as syncing
from coord import worktree
from coord.errors import CoordError
from tests.conftest import git
from tests.integration.test_worktree_support import commit_file, head, run_coord, ws


def agent(repo: Path) -> Path:
    paths, config = ws(repo)
    return worktree.setup(paths, config, "backend").path


def hook(repo: Path, name: str, body: str, folder: str = ".git/hooks") -> None:
    path = repo / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def diverged(repo: Path, wt: Path) -> str:
    """main and the branch both moved: the merge needs a merge commit."""
    commit_file(repo, "main.txt", "main\n")
    return commit_file(wt, "api.py", "api\n")


def unchanged(repo: Path, before: str) -> None:
    assert head(repo) == before
    assert git(repo, "status", "--porcelain", "--untracked-files=no").stdout == ""
    assert not (repo / ".git" / "MERGE_HEAD").exists()
    assert not list((repo / ".git").glob("coord-*"))  # no scratch index or message left behind


@pytest.mark.parametrize("name", ["pre-merge-commit", "commit-msg", "prepare-commit-msg"])
def test_a_refusing_hook_refuses_the_merge_with_its_reason(git_repo: Path, name: str) -> None:
    wt = agent(git_repo)
    diverged(git_repo, wt)
    hook(git_repo, name, 'echo "policy: tests must pass first" >&2; exit 1')
    before = head(git_repo)
    proc = run_coord(git_repo, "agent.merge", "backend")
    assert proc.returncode == 10, proc.stderr
    assert name in proc.stderr and "policy: tests must pass first" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    unchanged(git_repo, before)


def test_pre_merge_commit_sees_the_merge_result_in_its_index(git_repo: Path, tmp_path: Path) -> None:
    wt = agent(git_repo)
    tip = diverged(git_repo, wt)
    seen = tmp_path / "seen"
    hook(git_repo, "pre-merge-commit", f'git diff --cached --name-only HEAD > "{seen}"')
    proc = run_coord(git_repo, "agent.merge", "backend")
    assert proc.returncode == 0, proc.stderr
    assert seen.read_text().split() == ["api.py"]
    assert git(git_repo, "rev-parse", "HEAD^2").stdout.strip() == tip


def test_message_hooks_rewrite_the_merge_message(git_repo: Path, tmp_path: Path) -> None:
    wt = agent(git_repo)
    diverged(git_repo, wt)
    args = tmp_path / "args"
    hook(git_repo, "prepare-commit-msg", f'echo "$2" > "{args}"; echo "Ticket: ABC-1" >> "$1"')
    hook(git_repo, "commit-msg", 'echo "Signed-off-by: Release Bot <bot@example.com>" >> "$1"')
    assert run_coord(git_repo, "agent.merge", "backend").returncode == 0
    message = git(git_repo, "log", "-1", "--format=%B").stdout
    assert message.startswith("Merge agent/backend/active")
    assert "Ticket: ABC-1" in message and "Signed-off-by: Release Bot" in message
    assert args.read_text().strip() == "merge"


def test_hooks_under_core_hooks_path_run(git_repo: Path) -> None:
    wt = agent(git_repo)
    diverged(git_repo, wt)
    hook(git_repo, "commit-msg", 'echo "hooksPath refused" >&2; exit 1', folder="policy-hooks")
    git(git_repo, "add", "policy-hooks")
    git(git_repo, "commit", "-q", "-m", "hooks")
    git(git_repo, "config", "core.hooksPath", "policy-hooks")  # relative: to the checkout's top
    before = head(git_repo)
    proc = run_coord(git_repo, "agent.merge", "backend")
    assert proc.returncode == 10 and "hooksPath refused" in proc.stderr, proc.stderr
    unchanged(git_repo, before)


def test_fast_forward_runs_no_commit_hook_but_post_merge(git_repo: Path, tmp_path: Path) -> None:
    """As git: a fast-forward creates no commit (so no pre-merge-commit), post-merge runs after any merge."""
    wt = agent(git_repo)
    tip = commit_file(wt, "api.py", "api\n")
    ran = tmp_path / "post"
    hook(git_repo, "pre-merge-commit", "exit 1")
    hook(git_repo, "post-merge", f'echo "$1" >> "{ran}"')
    assert run_coord(git_repo, "agent.merge", "backend").returncode == 0
    assert head(git_repo) == tip and ran.read_text().split() == ["0"]
    commit_file(git_repo, "main2.txt", "main\n")
    commit_file(wt, "api2.py", "api\n")
    (git_repo / ".git" / "hooks" / "pre-merge-commit").unlink()
    assert run_coord(git_repo, "agent.merge", "backend").returncode == 0
    assert ran.read_text().split() == ["0", "0"]


def test_sync_runs_the_hooks_in_the_agent_worktree(git_repo: Path) -> None:
    wt = agent(git_repo)
    commit_file(git_repo, "main.txt", "main\n")
    commit_file(wt, "api.py", "api\n")
    hook(git_repo, "commit-msg", 'echo "no merges on Fridays" >&2; exit 1')
    paths, config = ws(git_repo)
    before = head(wt)
    with pytest.raises(CoordError, match="no merges on Fridays"):
        syncing.sync(paths, config, "backend")
    assert head(wt) == before and git(wt, "status", "--porcelain").stdout == ""
    hook(git_repo, "commit-msg", 'echo "Reviewed: yes" >> "$1"')
    result = syncing.sync(paths, config, "backend")
    assert result.kind == "merge" and "Reviewed: yes" in git(wt, "log", "-1", "--format=%B").stdout


# --- signing -------------------------------------------------------------------------------------


def ssh_signing(repo: Path, tmp_path: Path) -> Path:
    if not shutil.which("ssh-keygen"):
        pytest.fail("ssh-keygen is needed for the signing tests")
    key = tmp_path / "signing_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "signer", "-f", str(key)], check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"* {(tmp_path / 'signing_key.pub').read_text()}")
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingkey", str(key) + ".pub")
    git(repo, "config", "gpg.ssh.allowedSignersFile", str(allowed))
    git(repo, "config", "commit.gpgsign", "true")
    return key


def test_ssh_signed_merge_commit(git_repo: Path, tmp_path: Path) -> None:
    wt = agent(git_repo)
    git(wt, "config", "--worktree", "commit.gpgsign", "false")  # the agent's own commits unsigned
    diverged(git_repo, wt)
    git(wt, "config", "--worktree", "--unset", "commit.gpgsign")
    ssh_signing(git_repo, tmp_path)
    assert run_coord(git_repo, "agent.merge", "backend").returncode == 0
    assert git(git_repo, "verify-commit", "HEAD", check=False).returncode == 0
    assert "gpgsig" in git(git_repo, "cat-file", "-p", "HEAD").stdout


def test_unsigned_when_commit_gpgsign_is_off(git_repo: Path) -> None:
    wt = agent(git_repo)
    diverged(git_repo, wt)
    assert run_coord(git_repo, "agent.merge", "backend").returncode == 0
    assert "gpgsig" not in git(git_repo, "cat-file", "-p", "HEAD").stdout


def test_a_signature_that_cannot_be_made_refuses_the_merge(git_repo: Path, tmp_path: Path) -> None:
    wt = agent(git_repo)
    diverged(git_repo, wt)
    ssh_signing(git_repo, tmp_path)
    git(git_repo, "config", "user.signingkey", str(tmp_path / "no-such-key.pub"))
    before = head(git_repo)
    proc = run_coord(git_repo, "agent.merge", "backend")
    assert proc.returncode == 10 and "commit.gpgsign" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    unchanged(git_repo, before)


def test_gpg_signed_merge_commit(git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not shutil.which("gpg"):
        pytest.fail("gpg is needed for this test")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    subprocess.run(["gpg", "--batch", "--quiet", "--passphrase", "", "--quick-gen-key", "Signer <signer@example.com>",
                    "ed25519", "sign", "never"], check=True, capture_output=True, timeout=120)
    wt = agent(git_repo)
    diverged(git_repo, wt)
    git(git_repo, "config", "user.signingkey", "signer@example.com")
    git(git_repo, "config", "commit.gpgsign", "true")
    env = {**os.environ, "GNUPGHOME": str(home)}
    proc = run_coord(git_repo, "agent.merge", "backend", env={k: v for k, v in env.items()
                                                              if not k.startswith(("COORD_", "GIT_", "CLAUDE"))})
    assert proc.returncode == 0, proc.stderr
    assert git(git_repo, "verify-commit", "HEAD", check=False).returncode == 0
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False, capture_output=True)


def test_sync_merge_commit_is_signed_too(git_repo: Path, tmp_path: Path) -> None:
    wt = agent(git_repo)
    commit_file(git_repo, "main.txt", "main\n")
    commit_file(wt, "api.py", "api\n")
    ssh_signing(git_repo, tmp_path)
    paths, config = ws(git_repo)
    assert syncing.sync(paths, config, "backend").kind == "merge"
    assert git(wt, "verify-commit", "HEAD", check=False).returncode == 0


@pytest.mark.parametrize("diverge", [False, True], ids=["fast-forward", "merge-commit"])
def test_verify_signatures_refuses_an_unsigned_branch_and_takes_a_signed_one(
    git_repo: Path, tmp_path: Path, diverge: bool
) -> None:
    wt = agent(git_repo)
    if diverge:
        commit_file(git_repo, "main.txt", "main\n")
    commit_file(wt, "unsigned.py", "x\n")
    ssh_signing(git_repo, tmp_path)
    git(git_repo, "config", "merge.verifySignatures", "true")
    before = head(git_repo)
    proc = run_coord(git_repo, "agent.merge", "backend")
    assert proc.returncode == 10 and "merge.verifySignatures" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    unchanged(git_repo, before)
    signed = commit_file(wt, "signed.py", "y\n")  # commit.gpgsign is on for the whole repository now
    assert git(wt, "verify-commit", signed, check=False).returncode == 0
    proc = run_coord(git_repo, "agent.merge", "backend")
    assert proc.returncode == 0, proc.stderr
    assert git(git_repo, "merge-base", "--is-ancestor", signed, "HEAD", check=False).returncode == 0
