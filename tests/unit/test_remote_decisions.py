"""coord.remote's pure decisions: which tip stands for a role here, the lease, the fetch rate."""

from __future__ import annotations

from coord.remote import fetch_due, lease_arg, use_fetched


def test_a_role_on_another_machine_is_its_fetched_branch() -> None:
    assert use_fetched("aaa", "bbb", "box-a", "box-b") is True
    assert use_fetched("aaa", "bbb", "box-b", "box-b") is False  # runs here: the local branch
    assert use_fetched("aaa", "bbb", None, "box-b") is False  # nobody ever held it: the local one
    assert use_fetched(None, "bbb", None, "box-b") is True  # no branch here at all
    assert use_fetched("aaa", None, "box-a", "box-b") is False  # nothing fetched


def test_the_lease_names_what_was_last_seen_or_demands_absence() -> None:
    assert lease_arg("qa", "abc123") == "--force-with-lease=refs/heads/agent/qa/active:abc123"
    assert lease_arg("qa", None) == "--force-with-lease=refs/heads/agent/qa/active:"


def test_fetches_are_rate_limited_and_a_clock_going_back_does_not_stop_them() -> None:
    assert fetch_due(None, 100.0, 30)
    assert not fetch_due(100.0, 129.9, 30)
    assert fetch_due(100.0, 130.0, 30)
    assert fetch_due(100.0, 50.0, 30)
