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
        banner = self.query_one("#banner", Static)
        banner.update(text)
        banner.set_class(down, "down")

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

    def _fill_team(self, rows: list[AgentRow]) -> None:
        table = self.query_one("#team", DataTable)
        selected = self.selected_role()
        table.clear()
        for row in rows:
            conflicts = ",".join(row.conflicts_with) or "-"
            table.add_row(
                Text(row.role, style="bold"),
                Text(row.presence, style=PRESENCE_STYLE.get(row.presence, "")),
                Text(activity_text(row), style=ACTIVITY_STYLE.get(row.activity, "dim")),
                Text(branch_text(row), style="yellow" if row.dirty else ""),
                "-" if row.unread is None else str(row.unread),
                Text(conflicts, style="bold red" if row.conflicts_with else "dim"),
                ",".join(row.claims) or "-",
                row.host,
                "-" if row.last_status is None else f"{describe_age(row.last_status_seconds or 0)} "
                f"{row.last_status.text}",
                key=row.role,
            )
        if selected is not None and selected in {r.role for r in rows}:
            table.move_cursor(row=table.get_row_index(selected))

    def _fill_mail(self, snap: Snapshot) -> None:
        table = self.query_one("#mailbox", DataTable)
        table.clear()
        for msg in snap.messages[:MAIL_LIMIT]:
            first = next((ln.strip() for ln in msg.body.splitlines() if ln.strip()), "")
            style = "bold red" if msg.type in ("BLOCKER", "CONFLICT_WARNING", "QUESTION") else ""
            table.add_row(describe_age(snap.taken_at - msg.timestamp), Text(msg.type, style=style), msg.sender,
                          msg.recipient, first[:200])

    def _fill_matrix(self, snap: Snapshot) -> None:
        table = self.query_one("#matrix", DataTable)
        roles = [r.role for r in snap.rows]
        states = {(p.pair.a.role, p.pair.b.role): p.status for p in snap.pairs}
        table.clear(columns=True)
        table.add_columns("", *roles)
        for role, line in zip(roles, matrix(roles, states), strict=True):
            table.add_row(Text(role, style="bold"), *(Text(c, style=PAIR_STYLE.get(c, "")) for c in line))

    def _fill_claims(self, snap: Snapshot) -> None:
        table = self.query_one("#claimlist", DataTable)
        table.clear()
        for claim in snap.stored.claims:
            table.add_row(claim.pattern, claim.role, claim.status, describe_age(claim.seconds_left), claim.reason)

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
        if os.environ.get("TMUX"):
            subprocess.run(argv, check=False, stdin=subprocess.DEVNULL, capture_output=True)
            return
        with self.suspend():
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
