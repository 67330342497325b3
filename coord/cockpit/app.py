"""The cockpit app: the status table (needs-input first, coloured by state), the mail between roles,
the conflict matrix and the claims, refreshed from coord.team.feed by one background thread.

Keys act on the selected role: s sends it a message (as the main role: the human at the cockpit
steers from the main checkout), j jumps to its tmux window, m merges its branch after a confirmation
the way `coord agent.merge` does (coord.worktree.merge, then the merge notices of
coord.merge_notifier), y syncs the base branch into it (coord.sync, as `coord agent.sync`), q quits.
Colour is only ever a second signal: every state is also written out, so NO_COLOR (honoured by
Textual) loses nothing.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Label, Select, Static, TabbedContent, TabPane

from coord.config import Config
from coord.messages import LIFECYCLE_TYPES, MessageType
from coord.presence import describe_age
from coord.repo import RepoPaths
from coord.team.feed import Feed
from coord.team.gather import Snapshot
from coord.team.rows import AgentRow, activity_text, attention_order, branch_text, matrix

PRESENCE_STYLE = {"active": "green", "stale": "yellow", "inactive": "dim", "absent": "dim", "unknown": "dim"}
ACTIVITY_STYLE = {"needs_input": "bold red", "working": "green", "idle": "cyan"}
PAIR_STYLE = {"conflict": "bold red", "touch": "yellow", "clean": "green", "?": "dim", "error": "magenta"}
TEAM_COLUMNS = ("ROLE", "PRESENCE", "ACTIVITY", "BRANCH", "UNREAD", "CONFLICTS", "CLAIMS", "HOST", "LAST STATUS")
MAIL_LIMIT = 200
NOTICE_SECONDS = 15.0
SENDABLE = [t.value for t in MessageType if t not in LIFECYCLE_TYPES and t is not MessageType.CONFLICT_WARNING]


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.question, id="question")
            yield Label("y: yes   n / Esc: no")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class SendScreen(ModalScreen[tuple[str, str] | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, sender: str, role: str) -> None:
        super().__init__()
        self.sender, self.role = sender, role

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"message from {self.sender} to {self.role} (Enter sends, Esc cancels)")
            yield Select([(t, t) for t in SENDABLE], value=MessageType.INFO.value, allow_blank=False, id="type")
            yield Input(placeholder="what to say", id="body")

    def on_mount(self) -> None:
        self.query_one("#body", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        kind = self.query_one("#type", Select).value
        if event.value.strip():
            self.dismiss((str(kind), event.value))

    def action_cancel(self) -> None:
        self.dismiss(None)


class CockpitApp(App[None]):
    TITLE = "coord watch"
    CSS = """
    #banner { height: 1; padding: 0 1; }
    #banner.down { background: $error; color: $text; }
    #team { height: 1fr; min-height: 5; }
    TabbedContent { height: 1fr; min-height: 7; }
    ConfirmScreen, SendScreen { align: center middle; }
    #dialog { width: 70; max-width: 100%; height: auto; border: round $accent; padding: 0 1; background: $panel; }
    App.-plain DataTable > .datatable--cursor { text-style: reverse bold; }
    App.-plain DataTable > .datatable--header { text-style: bold underline; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "send", "Send"),
        Binding("j", "jump", "Jump"),
        Binding("m", "merge", "Merge"),
        Binding("y", "sync", "Sync"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, paths: RepoPaths, config: Config, interval: float = 0.5, feed: Feed | None = None) -> None:
        # NO_COLOR: Textual alone only turns colours grey (Monochrome); with the terminal's own ANSI
        # colours it drops them all (NoColor), and the cursor row is then marked by reverse video.
        plain = "NO_COLOR" in os.environ
        super().__init__(ansi_color=True if plain else None)
        if plain:
            self.add_class("-plain")
        self.paths, self.config, self.interval = paths, config, interval
        self.feed = feed or Feed(paths, config)
        self.snapshot: Snapshot | None = None
        self._stop = threading.Event()
        self._force = threading.Event()
        self._thread: threading.Thread | None = None
        self.updates = 0  # snapshots applied (tests wait on it)
        self.last_notice = ""  # the outcome of the last action, also shown at the start of the banner
        self.notice_at = 0.0  # when it was set (monotonic): it leaves the banner after NOTICE_SECONDS
        self._shown: dict[str, object] = {}  # widget id -> the content it shows (see _changed)

    # -- layout ----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static("connecting…", id="banner")
        yield DataTable(id="team", cursor_type="row", zebra_stripes=False)
        with TabbedContent(initial="mail"):
            with TabPane("Mail", id="mail"):
                yield DataTable(id="mailbox", cursor_type="row")
            with TabPane("Conflicts", id="conflicts"):
                yield DataTable(id="matrix", cursor_type="cell")
            with TabPane("Claims", id="claims"):
                yield DataTable(id="claimlist", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#team", DataTable).add_columns(*TEAM_COLUMNS)
        self.query_one("#mailbox", DataTable).add_columns("AGE", "TYPE", "FROM", "TO", "MESSAGE")
        self.query_one("#claimlist", DataTable).add_columns("PATTERN", "HOLDER", "STATUS", "LEFT", "REASON")
        self.query_one("#team", DataTable).focus()
        self._thread = threading.Thread(target=self._poll_loop, name="coord-watch-poll", daemon=True)
        self._thread.start()

    def on_unmount(self) -> None:
        self._stop.set()
        self._force.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.feed.close()

    # -- the feed --------------------------------------------------------------------------------
    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            force = self._force.is_set()
            self._force.clear()
            try:
                snap = self.feed.poll(force=force)
            except Exception as exc:  # the view must survive anything and say so
                self.call_from_thread(self._show_banner, f"refresh failed: {exc}", True)
                snap = None
            if snap is not None and not self._stop.is_set():
                self.call_from_thread(self.apply, snap)
            self._force.wait(self.interval)

    def refresh_now(self) -> None:
        self._force.set()

    def _show_banner(self, text: str, down: bool) -> None:
        if not self._changed("banner", (text, down)):
            return
        banner = self.query_one("#banner", Static)
        banner.update(text)
        banner.set_class(down, "down")

    def _changed(self, name: str, content: object) -> bool:
        """Whether a widget's new content differs from what it shows (and remember it). Refilling
        a DataTable re-renders it: about 50 ms of CPU for the team table with 20 roles, which every
        10-second age refresh paid even when nothing on screen changed, half the cockpit's idle CPU."""
        if self._shown.get(name) == content:
            return False
        self._shown[name] = content
        return True

    def apply(self, snap: Snapshot) -> None:
        self.snapshot = snap
        roles = len(snap.rows)
        if snap.stored.reachable:
            text = f"{self.paths.main_root.name}: {roles} roles · Redis ok"
        else:
            text = f"Redis unreachable, retrying every {self.interval:g}s: {snap.stored.error}"
        if snap.git_error:
            text += f" · git: {snap.git_error}"
        if self.last_notice and time.monotonic() - self.notice_at > NOTICE_SECONDS:
            self.last_notice = ""  # said long enough: the banner's own facts need the width (80 columns)
        if self.last_notice:  # the outcome of the last action first, unless Redis is down: that leads
            text = f"{self.last_notice} · {text}" if snap.stored.reachable else f"{text} · {self.last_notice}"
        self._show_banner(text, not snap.stored.reachable)
        self._fill_team(attention_order(snap.rows))
        self._fill_mail(snap)
        self._fill_matrix(snap)
        self._fill_claims(snap)
        self.updates += 1

    def _fill(self, table_id: str, rows: list[tuple[Any, ...]], keys: list[str] | None = None,
              columns: tuple[str, ...] | None = None) -> bool:
        """Put rows into a table unless it already shows exactly them (text and style of every cell;
        columns too when given, for the matrix whose columns are the roles). When the same rows only
        have a few cells changed (ages ticking: "42s" -> "52s"), just those cells are updated: a
        refill re-measures the whole table. True when anything changed."""
        shown = [tuple((c.plain, str(c.style)) if isinstance(c, Text) else c for c in row) for row in rows]
        before = self._shown.get(table_id)
        if not self._changed(table_id, (columns, keys, shown)):
            return False
        table = self.query_one(f"#{table_id}", DataTable)
        if isinstance(before, tuple) and before[:2] == (columns, keys) and len(before[2]) == len(shown):
            cells = [(r, c) for r, (old, new) in enumerate(zip(before[2], shown, strict=True))
                     for c, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
            if len(cells) <= len(shown):  # about one cell a row: an age, not a new ordering
                for r, c in cells:
                    table.update_cell_at(Coordinate(r, c), rows[r][c], update_width=True)
                return True
        if columns is not None:
            table.clear(columns=True)
            table.add_columns(*columns)
        else:
            table.clear()
        for i, row in enumerate(rows):
            table.add_row(*row, key=None if keys is None else keys[i])
        return True

    def _fill_team(self, rows: list[AgentRow]) -> None:
        selected = self.selected_role()
        cells = [(
            Text(row.role, style="bold"),
            Text(row.presence, style=PRESENCE_STYLE.get(row.presence, "")),
            Text(activity_text(row), style=ACTIVITY_STYLE.get(row.activity, "dim")),
            Text(branch_text(row), style="yellow" if row.dirty else ""),
            "-" if row.unread is None else str(row.unread),
            Text(",".join(row.conflicts_with) or "-", style="bold red" if row.conflicts_with else "dim"),
            ",".join(row.claims) or "-",
            row.host,
            "-" if row.last_status is None else f"{describe_age(row.last_status_seconds or 0)} {row.last_status.text}",
        ) for row in rows]
        keys = [row.role for row in rows]
        if self._fill("team", cells, keys) and selected is not None and selected in keys:
            table = self.query_one("#team", DataTable)
            table.move_cursor(row=table.get_row_index(selected))

    def _fill_mail(self, snap: Snapshot) -> None:
        rows = []
        for msg in snap.messages[:MAIL_LIMIT]:
            first = next((ln.strip() for ln in msg.body.splitlines() if ln.strip()), "")
            style = "bold red" if msg.type in ("BLOCKER", "CONFLICT_WARNING", "QUESTION") else ""
            rows.append((describe_age(snap.taken_at - msg.timestamp), Text(msg.type, style=style), msg.sender,
                         msg.recipient, first[:200]))
        self._fill("mailbox", rows)

    def _fill_matrix(self, snap: Snapshot) -> None:
        roles = [r.role for r in snap.rows]
        states = {(p.pair.a.role, p.pair.b.role): p.status for p in snap.pairs}
        rows = [(Text(role, style="bold"), *(Text(c, style=PAIR_STYLE.get(c, "")) for c in line))
                for role, line in zip(roles, matrix(roles, states), strict=True)]
        self._fill("matrix", rows, columns=("", *roles))

    def _fill_claims(self, snap: Snapshot) -> None:
        rows = [(claim.pattern, claim.role, claim.status, describe_age(claim.seconds_left), claim.reason)
                for claim in snap.stored.claims]
        self._fill("claimlist", rows)

    # -- actions ---------------------------------------------------------------------------------
    def selected_role(self) -> str | None:
        table = self.query_one("#team", DataTable)
        if table.row_count == 0:
            return None
        try:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except Exception:  # no row under the cursor
            return None

    def action_send(self) -> None:
        role = self.selected_role()
        if role is None:
            return
        sender = self.config.main_role

        def done(answer: tuple[str, str] | None) -> None:
            if answer is not None:
                self._in_thread(lambda: self._send(sender, role, *answer))

        self.push_screen(SendScreen(sender, role), done)

    def _send(self, sender: str, role: str, kind: str, body: str) -> str:
        from coord.store import open_store

        with open_store(self.paths, self.config, start_server=False) as store:
            store.publish(sender, role, kind, body)
        return f"sent {kind} to {role}"

    def action_merge(self) -> None:
        role = self.selected_role()
        if role is None:
            return
        if role == self.config.main_role:
            self.notify(f"{role} works on the base branch: nothing to merge", severity="warning")
            return

        def done(yes: bool | None) -> None:
            if yes:
                self._in_thread(lambda: self._merge(role))

        self.push_screen(ConfirmScreen(f"Merge agent/{role}/active into the base branch?"), done)

    def _merge(self, role: str) -> str:
        """What `coord agent.merge ROLE` does: the merge, then the notices that close the loop
        (MERGE_READY acknowledged, ROLE told, the other live agents told the base moved)."""
        from coord import worktree
        from coord.merge_notifier import announce_merge, event_for

        result = worktree.merge(self.paths, self.config, role)
        line = f"merged {result.branch} into {result.base} ({result.kind}, {result.commit[:8]})"
        if result.kind == "up-to-date":
            line = f"{result.branch} is already merged into {result.base}"
        report = announce_merge(self.paths, self.config, event_for(self.paths, self.config, result))
        return "; ".join([line, *report.warnings])

    def action_sync(self) -> None:
        role = self.selected_role()
        if role is None:
            return
        if role == self.config.main_role:
            self.notify(f"{role} works on the base branch: nothing to sync", severity="warning")
            return
        self._in_thread(lambda: self._sync(role))

    def _sync(self, role: str) -> str:
        """What `coord agent.sync --role ROLE` does: the base branch merged into ROLE's branch."""
        from coord import sync as syncing

        result = syncing.sync(self.paths, self.config, role)
        if result.kind == "up-to-date":
            return f"{result.branch} already has {result.base}"
        return f"synced {role}: {result.kind} to {result.commit[:8]}"

    def action_jump(self) -> None:
        role = self.selected_role()
        if role is None:
            return
        from coord.errors import CoordError
        from coord.team import launch
        from coord.team.tmux import Tmux

        try:
            argv = launch.attach_argv(self.paths, role, Tmux())
        except CoordError as exc:
            self.notify(exc.line(), severity="error")
            return
        if "switch-client" in argv:  # inside a client of the team's server: move that client, stay here
            done = subprocess.run(argv, check=False, stdin=subprocess.DEVNULL, capture_output=True, text=True)
            if done.returncode != 0:
                self.notify(f"tmux: {done.stderr.strip() or 'switch-client failed'}", severity="error")
            return
        with self.suspend():  # a client of its own on this terminal; detaching returns here
            subprocess.run(argv, check=False)

    def _in_thread(self, work: Any) -> None:
        """Run a library call off the UI thread; its one-line outcome (or error) becomes a notice."""
        from coord.errors import CoordError, MergeConflictError

        def body() -> None:
            try:
                message, severity = str(work()), "information"
            except MergeConflictError as exc:
                message, severity = f"{exc.line()}: {', '.join(exc.files)}", "error"
            except CoordError as exc:
                message, severity = exc.line(), "error"
            self.last_notice, self.notice_at = message, time.monotonic()
            self.call_from_thread(self.notify, message, severity=severity, timeout=8)
            self.refresh_now()

        threading.Thread(target=body, name="coord-watch-action", daemon=True).start()


def run(paths: RepoPaths, config: Config, interval: float = 0.5) -> None:
    CockpitApp(paths, config, interval).run()
