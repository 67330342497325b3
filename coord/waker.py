"""The idle waker: an agent that waits at its prompt gets its actionable mail without a human.

Who watches: each role's own `coord mcp` server (it runs for the whole session, already has a
Redis connection and a background loop, and inherits the pane's environment). Every POLL_SECONDS
it reads the role's presence, cursors and pending mail in one round trip and decides (pure,
`wake_ids`) whether to type one short line into the agent's tmux pane, for example
`coord: 1 new TASK_ASSIGNMENT from pm; read your mail and act on it`. The CLI submits it as a
prompt, so the per-prompt hook puts the mail itself in front of the agent.

Only for sessions coord started in tmux: `coord team.up` sets COORD_WAKE=tmux in the agent's
window and tmux sets TMUX and TMUX_PANE; anything else gets no waker. Never while the agent
works (activity working), never while it asks its human for a permission, never twice for the
same mail (the `woken` cursor is moved before the line is typed).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from coord.messages import Message
from coord.presence import Activity
from coord.team.launch import WAKE_ENV, WAKE_TMUX  # what team.up sets in each agent's window

if TYPE_CHECKING:
    from coord.store import Store

POLL_SECONDS = 2.0  # how often the waker looks; the wake-up comes at most this late after wake_after_seconds
TYPE_PAUSE = 0.5  # between the typed text and Enter: a TUI may take a fast burst of keys for a paste
SHOWN_MAX = 20  # messages a wake-up line summarises at most
IDLE_PROMPT_EVENT = "Notification:idle_prompt"
CONFIRM_SECONDS = 10.0  # a typed line not taken up as a prompt by then (still idle since the same time) ...
ATTEMPTS = 3  # ... gets Enter again (a TUI may take the text as a paste), then is typed again once


# -- pure ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WakeTarget:
    """The tmux pane this session runs in, and the tmux server's socket."""

    pane: str
    socket: str


def target_from(environ: Mapping[str, str]) -> WakeTarget | None:
    """A target only for a session coord started in tmux (COORD_WAKE=tmux, TMUX and TMUX_PANE set)."""
    if environ.get(WAKE_ENV) != WAKE_TMUX:
        return None
    pane, tmux = environ.get("TMUX_PANE", "").strip(), environ.get("TMUX", "").strip()
    socket = tmux.split(",", 1)[0]
    if not pane.startswith("%") or not socket:
        return None
    return WakeTarget(pane, socket)


def _id_key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        return 0, 0


@dataclass(frozen=True)
class WakeState:
    """One role's facts as the waker reads them (coord.presence record fields, cursors, pending)."""

    session_id: str
    status: str
    activity: str
    activity_since: float
    activity_event: str
    seen: str
    woken: str
    pending: Mapping[str, str]  # id -> type
    now: float


def waiting_at_prompt(state: WakeState) -> bool:
    """Idle (its turn ended, or it just started), or the CLI's own idle-prompt notification. Not a
    permission prompt: typed text would answer the dialog."""
    if state.activity == Activity.IDLE.value:
        return True
    return state.activity == Activity.NEEDS_INPUT.value and state.activity_event == IDLE_PROMPT_EVENT


def wake_ids(state: WakeState, session_id: str, actionable: frozenset[str], wake_after: float) -> list[str]:
    """The actionable mail to wake the agent for, oldest first ([] = do nothing): this session holds
    the role, it has waited at its prompt for wake_after seconds or more, and the mail is newer than
    both what it has seen and what it was already woken for."""
    if state.session_id != session_id or state.status != "active" or not waiting_at_prompt(state):
        return []
    if state.now - state.activity_since < wake_after:
        return []
    after = max(_id_key(state.seen or "0-0"), _id_key(state.woken or "0-0"))
    fresh = [i for i, kind in state.pending.items() if kind in actionable and _id_key(i) > after]
    return sorted(fresh, key=_id_key)


def wake_line(count: int, messages: Sequence[Message]) -> str:
    """One short line typed into the pane: how many, which types, from whom. For example
    `coord: 1 new TASK_ASSIGNMENT from pm; read your mail and act on it`."""
    kinds: dict[str, int] = {}
    senders: list[str] = []
    for m in messages:
        kinds[m.type] = kinds.get(m.type, 0) + 1
        if m.sender not in senders:
            senders.append(m.sender)
    if len(kinds) == 1 and count == len(messages):
        what = f"{count} new {next(iter(kinds))}"
    else:
        what = f"{count} new messages ({', '.join(f'{n} {t}' for t, n in kinds.items())})"
    origin = f" from {', '.join(senders)}" if senders else ""
    return f"coord: {what}{origin}; read your mail and act on it"


# -- effects ------------------------------------------------------------------------------------
def read_state(store: Store, role: str) -> WakeState | None:
    """One round trip: the presence record, both cursors, the pending types, the server's time."""
    from coord.resp import items, pairs
    from coord.store_results import decode_records

    k = store.keys
    replies = store.pipeline([["HGET", k.presence, role], ["GET", k.seen(role)], ["GET", k.woken(role)],
                              ["HGETALL", k.pending(role)], *store.time_commands()])
    if replies[0] is None:
        return None
    record = decode_records({role: replies[0]}).get(role)
    if record is None:
        return None
    pending = {str(i): str(t) for i, t in pairs(items(replies[3])).items()}
    return WakeState(record.session_id, record.status, record.activity, record.activity_since, record.activity_event,
                     str(replies[1] or ""), str(replies[2] or ""), pending, store.now_of(replies))


class Waker:
    """Types wake-up lines into one tmux pane for one session's role."""

    def __init__(self, target: WakeTarget, role: str, session_id: str, actionable: frozenset[str],
                 wake_after: float, run: Callable[[list[str]], object] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.target = target
        self.role = role
        self.session_id = session_id
        self.actionable = actionable
        self.wake_after = wake_after
        self.tmux = shutil.which("tmux") or "tmux"
        self._run = run or self._tmux
        self._sleep = sleep
        self.typed: list[str] = []  # lines typed so far (the MCP server logs them)
        # the line last typed, until the agent takes it up: (line, when, activity_since then, attempts)
        self._unconfirmed: tuple[str, float, float, int] | None = None

    @staticmethod
    def _tmux(argv: list[str]) -> object:
        return subprocess.run(argv, capture_output=True, timeout=15, stdin=subprocess.DEVNULL, check=False)

    def type_line(self, line: str) -> None:
        base = [self.tmux, "-S", self.target.socket, "send-keys", "-t", self.target.pane]
        self._run([*base, "-l", "--", line])
        self._sleep(TYPE_PAUSE)
        self._run([*base, "Enter"])

    def tick(self, store: Store) -> str | None:
        """Look once; type a line and return it when the agent should be woken, else None."""
        from coord.resp import items
        from coord.store_results import message_from_row

        state = read_state(store, self.role)
        if state is None:
            return None
        if self._unconfirmed is not None:
            return self._confirm(state)
        ids = wake_ids(state, self.session_id, self.actionable, self.wake_after)
        if not ids:
            return None
        k = store.keys
        shown = ids[:SHOWN_MAX]
        replies = store.pipeline([["SET", k.woken(self.role), ids[-1]],
                                  *(["XRANGE", k.inbox(self.role), i, i] for i in shown)])
        messages = [message_from_row(items(rows[0])) for rows in (items(r) for r in replies[1:]) if rows]
        line = wake_line(len(ids), messages)
        self.type_line(line)
        self.typed.append(line)
        self._unconfirmed = (line, time.monotonic(), state.activity_since, 1)
        return line

    def _confirm(self, state: WakeState) -> str | None:
        """The agent took the line up once its prompt hook ran (activity changed); if it did not
        within CONFIRM_SECONDS, press Enter again, then type it once more; then give up (the mail
        stays pending and the prompt hook shows it at the next prompt)."""
        assert self._unconfirmed is not None
        line, when, since, attempts = self._unconfirmed
        if not waiting_at_prompt(state) or state.activity_since != since or state.session_id != self.session_id:
            self._unconfirmed = None
            return None
        if time.monotonic() - when < CONFIRM_SECONDS:
            return None
        if attempts >= ATTEMPTS:
            self._unconfirmed = None
            return None
        base = [self.tmux, "-S", self.target.socket, "send-keys", "-t", self.target.pane]
        if attempts == 1:
            self._run([*base, "Enter"])
        else:
            self._run([*base, "C-u"])
            self.type_line(line)
        self._unconfirmed = (line, time.monotonic(), since, attempts + 1)
        return None


def waker_for(environ: Mapping[str, str], role: str, session_id: str, main_role: str,
              wake_after: float) -> Waker | None:
    """The session's waker, or None when coord did not start it in tmux."""
    from coord.delivery import actionable_types

    target = target_from(environ)
    if target is None:
        return None
    return Waker(target, role, session_id, actionable_types(role, main_role), wake_after)
