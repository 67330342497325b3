"""The namespace decision (coord.namespace.next_choice): pure values in, values out."""

from __future__ import annotations

from pathlib import Path

from coord.namespace import ROOT, UNBORN, legacy_namespace, next_choice, project_namespace

ROOT_A = "a" * 40
ROOT_B = "b" * 40


def test_the_project_namespace_depends_on_the_root_commit_only() -> None:
    assert project_namespace(ROOT_A) == project_namespace(ROOT_A) == "p-" + "a" * 16
    assert project_namespace(ROOT_A) != project_namespace(ROOT_B)


def test_first_use_with_a_commit_carries_the_legacy_namespace() -> None:
    got = next_choice(None, ROOT_A, "repo-1234", "tok")
    assert got == {"namespace": project_namespace(ROOT_A), "source": ROOT, "root": ROOT_A, "carry": ["repo-1234"]}


def test_unborn_then_first_commit_carries_both_older_namespaces() -> None:
    unborn = next_choice(None, None, "repo-1234", "f" * 32)
    assert unborn == {"namespace": "u-" + "f" * 16, "source": UNBORN, "carry": ["repo-1234"]}
    assert next_choice(unborn, None, "repo-1234", "other") is unborn  # stable until the first commit
    born = next_choice(unborn, ROOT_A, "repo-1234", "other")
    assert born["namespace"] == project_namespace(ROOT_A) and born["source"] == ROOT
    assert born["carry"] == ["repo-1234", "u-" + "f" * 16]


def test_a_root_choice_never_changes() -> None:
    stored = {"namespace": "p-x", "source": ROOT, "root": ROOT_A, "carry": []}
    assert next_choice(stored, ROOT_B, "elsewhere", "tok") is stored


def test_the_legacy_namespace_is_the_old_path_formula() -> None:
    # coord 0.1 derived it from the folder name and a digest of the git directory's path
    assert legacy_namespace(Path("/w/my repo"), Path("/w/my repo/.git")) == "my_repo-" + __import__(
        "hashlib").sha1(b"/w/my repo/.git").hexdigest()[:10]
