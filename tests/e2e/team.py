"""A team of REAL interactive Claude Code CLIs in tmux, started by `coord team.up`: the e2e harness.

Each role's agent is the interactive CLI (not `-p`) in a pane of a tmux server private to the test
(`tmux -L <unique>`, handed to coord as COORD_TMUX_SOCKET), pointed at a scripted model of its own
on loopback (tests/e2e/model.py). Nothing but the model is scripted: coord team.up sets up the
worktrees and starts the windows, the CLI loads the committed settings, hooks and .mcp.json,
and `coord mcp` runs under it for the whole session.

The throwaway HOME is what a user who had used Claude Code once would have: onboarding done,
the repository and its worktrees trusted, the API key approved; so every CLI starts straight at
its prompt. The agent command is `env ANTHROPIC_BASE_URL=<that role's model> <claude>` per role
(COORD_AGENT_COMMAND_BY_ROLE), everything else reaches the windows through team.up's own
environment (the variables launch.agent_env passes on).

Typing into a TUI on a loaded machine is the fragile part (an earlier attempt lost a prompt
typed before the CLI took input), so `prompt` waits for the input box and for the session to be
registered (its SessionStart hook ran) and for the MCP server process, types, then confirms that
the scripted model received the prompt; it presses Enter again if the text still sits in the box,
and types it again if it vanished without reaching the model.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from coord.keys import Keys
from tests.conftest import ValkeyProcess, git, make_project
from tests.e2e.model import ScriptedModel, Step
from tests.polling import wait_for

API_KEY = "sk-ant-scripted-team-test-0123456789"
START_SECONDS = 240.0  # a CLI start (node, hooks, `coord mcp`) on a loaded 2-core machine, generous
REQUEST_SECONDS = 180.0  # a scripted-model request the test waits for
RETYPE_SECONDS = 30.0  # how long a typed prompt may take to reach the model before it is retyped
POLL = 0.25
# The CLI's /mcp dialog, one line per server: 2.1.197 "❯ coord · ✔ connected · 12 tools" (or
# "◯ connecting…"), 2.1.332 "❯ ✔ coord   12 tools".
MCP_HEADER = "MCP servers"
COORD_WORD = re.compile(r"(?<![\w/.-])coord(?![\w/.-])")


def mcp_state(screen: str) -> str | None:
    """coord's state in an open /mcp dialog: "connected", "failed", "connecting"; None: no dialog."""
    if MCP_HEADER not in screen:
        return None
    for line in screen.split(MCP_HEADER, 1)[1].splitlines():
        if ".mcp.json" in line or not COORD_WORD.search(line):
            continue
        if "✘" in line or "fail" in line.lower():
            return "failed"
        if "✔" in line or re.search(r"\bconnected\b", line):
            return "connected"
        return "connecting"
    return "connecting"
# What the CLI's input area shows once it takes keys: its prompt marker first on a line (2.1.332:
# "❯" between two rules; 2.1.197: "│ > " inside a box). capture-pane drops trailing blanks.
PROMPT_MARKS = (">", "❯")


def clean_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment minus anything that would point claude, coord or tmux elsewhere."""
    drop = ("ANTHROPIC_", "CLAUDE", "COORD_", "TMUX")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    bindir = str(Path(sys.executable).parent)  # `coord`, `coord mcp` and the hook program of this tree
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


@dataclass(frozen=True)
class Pane:
    """One window of the team session."""

    role: str
    window: str
    pane: str
    pid: int
    path: str
    dead: bool


class TmuxServer:
    """A tmux server of the test's own (its own socket name); killed at the end."""

    def __init__(self) -> None:
        self.name = f"coord-e2e-{uuid.uuid4().hex[:10]}"

    def run(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(["tmux", "-L", self.name, *args], capture_output=True, text=True, check=False,
                              timeout=30, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"tmux {args[0]}: {proc.stderr.strip()}")
        return proc.stdout

    def panes(self) -> dict[str, Pane]:
        """Every window of every session on this server, by window name (a role)."""
        fields = "#{window_name}\t#{window_id}\t#{pane_id}\t#{pane_pid}\t#{pane_current_path}\t#{pane_dead}"
        out: dict[str, Pane] = {}
        for line in self.run("list-windows", "-a", "-F", fields, check=False).splitlines():
            parts = line.split("\t")
            if len(parts) == 6:
                name, wid, pane, pid, path, dead = parts
                out[name] = Pane(name, wid, pane, int(pid or 0), path, dead == "1")
        return out

    def kill(self) -> None:
        """End the server (SIGHUP to every program in it) and remove its socket file."""
        subprocess.run(["tmux", "-L", self.name, "kill-server"], capture_output=True, check=False,
                       stdin=subprocess.DEVNULL)
        (Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}" / self.name).unlink(missing_ok=True)


def squeeze(text: str) -> str:
    """Text with all whitespace removed: a prompt wrapped over lines of a pane still matches."""
    return "".join(text.split())


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every process below pid, read from /proc."""
    children: dict[int, list[int]] = {}
    cmdlines: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
        cmdlines[int(entry.name)] = cmd
    found: list[tuple[int, str]] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append((child, cmdlines.get(child, "")))
        todo += children.get(child, [])
    return found


class Team:
    """A repository with coord's files committed, roles started by `coord team.up` in a private tmux
    server, each role's CLI talking to its own ScriptedModel. Use as a context manager."""

    def __init__(self, root: Path, claude_bin: str, valkey: ValkeyProcess, namespace: str,
                 scripts: Mapping[str, Sequence[Step]], roles: Sequence[str] = ("pm", "backend", "qa"),
                 main_role: str = "pm", allow: Sequence[str] = (), settings: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.claude_bin = claude_bin
        self.roles = tuple(roles)
        self.allow = tuple(allow)  # permission rules the user approved once (~/.claude/settings.json)
        self.settings = dict(settings or {})  # COORD_<KEY> settings for coord and every agent
        self.main_role = main_role
        self.namespace = namespace
        self.keys = Keys(namespace)
        self.url = valkey.url
        self.tmux = TmuxServer()
        self.models = {role: ScriptedModel(list(scripts.get(role, ()))) for role in self.roles}
        self.home = root / "home"
        self.home.mkdir(parents=True)
        self.repo = make_project(root / "repo")
        (self.repo / "coord.toml").write_text(
            f"roles = {json.dumps(list(self.roles))}\nmain_role = {json.dumps(main_role)}\n")
        done = self.coord("init")
        assert done.returncode == 0, done.stdout + done.stderr
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", "coord init")
        self.r = redis.Redis.from_url(valkey.url, decode_responses=True)
        self._stack = ExitStack()
        self._typed: dict[str, int] = {}
        self._connected: set[str] = set()  # roles whose MCP server was seen connected

    # -- set-up and tear-down ------------------------------------------------------------------
    def __enter__(self) -> Team:
        for model in self.models.values():
            self._stack.enter_context(model)
        self._write_home()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.tmux.kill()  # SIGHUP to every CLI still running; their `coord mcp` servers end with them
            for role in self.roles:
                self._wait_gone(role)
        finally:
            self._stack.close()
            self.r.close()

    def _wait_gone(self, role: str) -> None:
        """After the server is killed, its CLIs and their MCP servers exit (stdin closed)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            alive = [p for p in Path("/proc").iterdir() if p.name.isdigit() and self._is_ours(p)]
            if not alive:
                return
            time.sleep(POLL)

    def _is_ours(self, proc: Path) -> bool:
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:
            return False
        return f"COORD_NAMESPACE={self.namespace}".encode() in environ and b"TMUX_PANE=" in environ

    def workdir(self, role: str) -> Path:
        return self.repo if role == self.main_role else self.repo / ".worktrees" / role

    def _write_home(self) -> None:
        """What the CLI records once a user went through onboarding, trusted the repository (and its
        worktrees) and approved the API key: the CLI then starts at its prompt."""
        projects = {str(self.workdir(role).resolve()) if role == self.main_role else
                    str(self.repo.resolve() / ".worktrees" / role):
                    {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True,
                     "projectOnboardingSeenCount": 1, "allowedTools": []}
                    for role in self.roles}
        data = {
            "hasCompletedOnboarding": True,
            "lastOnboardingVersion": "9.9.9",
            "numStartups": 1,
            "theme": "dark",
            "bypassPermissionsModeAccepted": False,
            "customApiKeyResponses": {"approved": [API_KEY[-20:]], "rejected": []},
            "projects": projects,
        }
        (self.home / ".claude.json").write_text(json.dumps(data))
        if self.allow:
            (self.home / ".claude").mkdir(exist_ok=True)
            allowed = {"permissions": {"allow": list(self.allow)}}
            (self.home / ".claude" / "settings.json").write_text(json.dumps(allowed))

    # -- environment and coord ------------------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        """What team.up runs with; launch.agent_env passes the CLI's share of it on to every window."""
        commands = {role: f"env ANTHROPIC_BASE_URL={model.url} {self.claude_bin}" for role, model in self.models.items()
                    if model._server is not None}
        return clean_environment({
            "HOME": str(self.home),
            "COORD_REDIS_URL": self.url,
            "COORD_NAMESPACE": self.namespace,
            "COORD_TMUX_SOCKET": self.tmux.name,
            "COORD_AGENT_COMMAND_BY_ROLE": json.dumps(commands),
            "ANTHROPIC_API_KEY": API_KEY,
            "CLAUDE_CODE_MAX_RETRIES": "0",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "MCP_CONNECTION_NONBLOCKING": "false",
            "MCP_CONNECT_TIMEOUT_MS": "60000",
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            **self.settings,
            **extra,
        })

    def coord(self, *args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "coord.cli", *args], cwd=cwd or self.repo, env=self.env(),
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def up(self, *roles: str) -> subprocess.CompletedProcess[str]:
        """`coord team.up [ROLE ...]`; asserts it succeeded."""
        done = self.coord("team.up", *roles)
        assert done.returncode == 0, done.stdout + done.stderr
        for role in self.roles:
            if f"{role}: started" in done.stdout:
                self._connected.discard(role)  # a new CLI: its MCP server is to be awaited again
        return done

    def down(self, *roles: str) -> subprocess.CompletedProcess[str]:
        done = self.coord("team.down", *roles)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    # -- panes --------------------------------------------------------------------------------
    def pane(self, role: str) -> Pane:
        panes = self.tmux.panes()
        assert role in panes, f"{role} has no window (windows: {sorted(panes)})"
        return panes[role]

    def screen(self, role: str) -> str:
        """The role's visible screen as text (capture-pane), no-break spaces (the CLI puts one after
        its prompt marker) read as spaces."""
        return self.tmux.run("capture-pane", "-p", "-t", self.pane(role).pane, check=False).replace("\xa0", " ")

    def has_prompt_box(self, role: str) -> bool:
        """The CLI draws its input area: a line starting with its prompt marker."""
        for line in self.screen(role).splitlines():
            stripped = line.strip(" │")
            if stripped in PROMPT_MARKS or stripped.startswith(tuple(m + " " for m in PROMPT_MARKS)):
                return True
        return False

    def mcp_server_running(self, role: str) -> bool:
        """A `coord mcp` process runs under the role's CLI."""
        return any(" mcp" in cmd and "coord" in cmd for _pid, cmd in descendants(self.pane(role).pid))

    def presence(self, role: str) -> dict[str, Any] | None:
        raw = self.r.hget(self.keys.presence, role)
        return json.loads(raw) if raw else None

    def events(self) -> list[dict[str, str]]:
        """The lifecycle event log (SESSION_START, HEARTBEAT, SESSION_END, ...), oldest first."""
        entries: list[tuple[str, dict[str, str]]] = self.r.xrange(self.keys.events)  # type: ignore[assignment]
        return [dict(fields) for _id, fields in entries]

    def inbox(self, role: str) -> list[dict[str, str]]:
        """Every message delivered to role (its stream), oldest first, with its id."""
        entries: list[tuple[str, dict[str, str]]] = self.r.xrange(self.keys.inbox(role))  # type: ignore[assignment]
        return [{"id": i, **fields} for i, fields in entries]

    def pending(self, role: str) -> list[dict[str, str]]:
        """role's delivered and not yet acknowledged messages."""
        ids = set(self.r.hkeys(self.keys.pending(role)))
        return [m for m in self.inbox(role) if m["id"] in ids]

    def status(self, role: str) -> str | None:
        record = self.presence(role)
        return None if record is None else str(record.get("status"))

    def wait(self, check: Callable[[], Any], what: str, timeout: float = REQUEST_SECONDS,
             role: str | None = None) -> Any:
        """Poll check until truthy; on timeout the failure shows what was awaited and the role's
        screen (or every screen), which is what tells a slow CLI from a stuck one."""
        try:
            return wait_for(check, what, timeout=timeout, interval=POLL)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.screens(role)}") from None

    def screens(self, role: str | None = None) -> str:
        shown = []
        for name in ([role] if role else self.roles):
            try:
                text = self.screen(name)
            except AssertionError as exc:
                text = str(exc)
            shown.append(f"--- {name}'s screen ---\n{text.rstrip()}")
        return "\n".join(shown)

    def wait_ready(self, role: str, timeout: float = START_SECONDS) -> None:
        """The role's CLI takes input: prompt box drawn, session registered (SessionStart hook ran),
        and its coord MCP server connected (seen in the CLI's own /mcp dialog, once per role: an
        interactive CLI does not wait for its MCP servers, so a prompt typed earlier reaches the
        model without coord's tools)."""
        self.wait(lambda: self.status(role) == "active", f"{role}'s presence to be active", timeout, role)
        self.wait(lambda: self.has_prompt_box(role), f"{role}'s prompt box", timeout, role)
        if role not in self._connected:
            self.wait_mcp_connected(role, timeout)
            self._connected.add(role)

    def wait_mcp_connected(self, role: str, timeout: float = START_SECONDS) -> None:
        """Open the CLI's /mcp dialog, wait for "coord · ✔ connected", close it (Escape): what a user
        does to check the server. Reopened if it closed by itself; a failed server fails the test."""
        pane = self.pane(role).pane
        deadline = time.monotonic() + timeout
        while True:
            self.wait(lambda: self.has_prompt_box(role) and not self.input_text(role).strip(),
                      f"{role}'s empty input box", max(1.0, deadline - time.monotonic()), role)
            self.tmux.run("send-keys", "-t", pane, "-l", "--", "/mcp")
            if self._poll(lambda: "/mcp" in self.input_text(role), 20):
                self.tmux.run("send-keys", "-t", pane, "Enter")
                state = self._poll(lambda: mcp_state(self.screen(role)) in ("connected", "failed"),
                                   max(1.0, min(60.0, deadline - time.monotonic())))
                screen = self.screen(role)
                assert mcp_state(screen) != "failed", f"{role}'s coord MCP server failed\n{screen}"
                if mcp_state(screen) is not None:
                    self.tmux.run("send-keys", "-t", pane, "Escape")
                self.wait(lambda: mcp_state(self.screen(role)) is None and self.has_prompt_box(role),
                          f"{role}'s /mcp dialog to close", 60, role)
                if state:
                    return
            else:
                self.tmux.run("send-keys", "-t", pane, "C-u")
            if time.monotonic() >= deadline:
                raise AssertionError(f"{role}'s coord MCP server never showed as connected\n{self.screens(role)}")

    # -- the scripted models -------------------------------------------------------------------
    def requests(self, role: str) -> list[dict[str, Any]]:
        """The role's main-conversation requests so far (a copy)."""
        model = self.models[role]
        with model._lock:
            return list(model.main_requests)

    def text_of(self, role: str, request: dict[str, Any]) -> str:
        return self.models[role].texts(request)

    def last_user_text(self, role: str, request: dict[str, Any]) -> str:
        """The text of the request's last user message (where a new prompt and hook context sit)."""
        for message in reversed(request.get("messages", [])):
            if message.get("role") == "user":
                return self.models[role].texts({"messages": [message]})
        return ""

    def wait_request(self, role: str, predicate: Callable[[dict[str, Any]], bool], what: str,
                     after: int = 0, timeout: float = REQUEST_SECONDS) -> tuple[int, dict[str, Any]]:
        """The first main request of role's model, from index `after` on, that satisfies predicate:
        (its index, the request)."""
        def check() -> tuple[int, dict[str, Any]] | None:
            for index, request in enumerate(self.requests(role)[after:], start=after):
                if predicate(request):
                    return index, request
            return None

        found: tuple[int, dict[str, Any]] = self.wait(check, f"{role}'s model to receive {what}", timeout, role)
        return found

    def prompt(self, role: str, text: str, timeout: float = REQUEST_SECONDS) -> tuple[int, dict[str, Any]]:
        """Type a one-line prompt into role's pane the way a user would, and return the model request
        that carried it (its index, the request). Robust on a loaded machine: waits until the CLI
        takes input, types, and confirms the model got the text; presses Enter again if the text
        still sits in the input box, types it again if it vanished without being submitted."""
        assert "\n" not in text, "one line: Enter submits"
        self.wait_ready(role)
        pane = self.pane(role).pane
        start = len(self.requests(role))
        deadline = time.monotonic() + timeout
        self._typed[role] = 0

        def reached() -> tuple[int, dict[str, Any]] | None:
            for index, request in enumerate(self.requests(role)[start:], start=start):
                if text in self.last_user_text(role, request):
                    return index, request
            return None

        while time.monotonic() < deadline:
            self._typed[role] += 1
            self.tmux.run("send-keys", "-t", pane, "-l", "--", text)
            shown = self._poll(lambda: squeeze(text) in squeeze(self.input_text(role)), 30)
            if not shown:
                self.tmux.run("send-keys", "-t", pane, "C-u")  # the keys went nowhere visible: start over
                continue
            self.tmux.run("send-keys", "-t", pane, "Enter")
            while time.monotonic() < deadline:
                found: tuple[int, dict[str, Any]] | None = self._poll(reached, RETYPE_SECONDS)
                if found is not None:
                    return found
                if squeeze(text) in squeeze(self.input_text(role)):
                    self.tmux.run("send-keys", "-t", pane, "Enter")  # typed, not submitted: submit it
                elif squeeze(text) not in squeeze(self.screen(role)):
                    break  # gone without a trace: type it again
                # else: submitted (shown above the input box) and the model is merely slow: keep waiting
        raise AssertionError(f"{role}'s model never received the prompt {text!r} ({self._typed[role]} attempt(s) in "
                             f"{timeout:g} s)\n{self.screens(role)}")

    @staticmethod
    def _poll(check: Callable[[], Any], seconds: float) -> Any:
        deadline = time.monotonic() + seconds
        while True:
            value = check()
            if value or time.monotonic() >= deadline:
                return value
            time.sleep(POLL)

    def input_text(self, role: str) -> str:
        """What sits in the CLI's input box now: from the last prompt-marker line down to the rule
        under it (the box is the last thing on the screen but the status line)."""
        lines = self.screen(role).splitlines()
        for index in range(len(lines) - 1, -1, -1):
            stripped = lines[index].strip(" │")
            if stripped[:1] in PROMPT_MARKS:
                box = [stripped[1:]]
                for line in lines[index + 1:]:
                    if line.strip(" │╰╯").startswith("─"):
                        break
                    box.append(line.strip(" │"))
                return " ".join(box)
        return ""

    def attempts(self, role: str) -> int:
        """How many times `prompt` typed its last prompt into role's pane (1: first time)."""
        return self._typed.get(role, 0)

