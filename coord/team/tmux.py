"""A thin tmux adapter: argument lists, never a shell string; one place that knows tmux's flags.

COORD_TMUX_SOCKET names a private server (`tmux -L NAME`), so tests and experiments never touch
the user's own sessions. Every call is one tmux client process; window ids (@N) are used as
targets once known, because a role name could also parse as a window index or pattern.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from coord.errors import CoordError, EnvironmentProblemError

SOCKET_ENV = "COORD_TMUX_SOCKET"
MIN_VERSION = (3, 0)  # new-session/new-window -e (per-window environment) arrived in tmux 3.0
TIMEOUT = 15.0
INSTALL_HINT = "install tmux 3.0 or newer: apt-get install tmux, brew install tmux, or dnf install tmux"
_FIELDS = ("#{window_id}", "#{window_name}", "#{pane_id}", "#{pane_pid}", "#{pane_dead}",
           "#{pane_current_path}", "#{pane_current_command}")
_SEP = "\t"
_MISSING = re.compile(r"no server running|server exited|can.t find|no such|error connecting|not found")


class TmuxError(CoordError):
    """tmux refused a command; the message carries tmux's own words."""

    exit_code = 10


@dataclass(frozen=True)
class Window:
    """One window of a session (its first pane): what the launcher needs to leave it alone."""

    id: str
    name: str
    pane: str
    pid: int
    dead: bool
    path: str
    command: str


def parse_version(text: str) -> tuple[int, int] | None:
    """`tmux 3.3a` -> (3, 3); `tmux next-3.4` -> (3, 4); None when unreadable."""
    found = re.search(r"(\d+)\.(\d+)", text)
    return (int(found.group(1)), int(found.group(2))) if found else None


def inside_server(tmux_env: str | None, socket_path: str) -> bool:
    """Whether $TMUX (socket,pid,session) says we run inside a client of the server at socket_path:
    only then can switch-client move that client. Inside ANOTHER server (a private COORD_TMUX_SOCKET,
    another TMUX_TMPDIR) the caller must attach instead."""
    if not tmux_env or not socket_path:
        return False
    return os.path.realpath(tmux_env.split(",", 1)[0]) == os.path.realpath(socket_path)


def parse_windows(text: str) -> list[Window]:
    windows = []
    for line in text.splitlines():
        parts = line.split(_SEP)
        if len(parts) != len(_FIELDS):
            continue
        wid, name, pane, pid, dead, path, command = parts
        windows.append(Window(wid, name, pane, int(pid) if pid.isdigit() else 0, dead == "1", path, command))
    return windows


class Tmux:
    """One tmux server: the default one, or the private socket named by COORD_TMUX_SOCKET."""

    def __init__(self, socket: str | None = None, binary: str | None = None) -> None:
        self.socket = socket if socket is not None else (os.environ.get(SOCKET_ENV) or None)
        self.binary = binary or shutil.which("tmux")

    def base(self) -> list[str]:
        if self.binary is None:
            raise EnvironmentProblemError("tmux is not installed", INSTALL_HINT)
        return [self.binary, *(["-L", self.socket] if self.socket else [])]

    def run(self, *args: str, ok_missing: bool = False) -> str:
        """stdout of one tmux command. ok_missing: a missing server/session/window gives "" instead
        of an error (the launcher asks whether things exist this way)."""
        try:
            proc = subprocess.run([*self.base(), *args], capture_output=True, text=True, timeout=TIMEOUT,
                                  stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise EnvironmentProblemError("tmux is not installed", INSTALL_HINT) from None
        except subprocess.TimeoutExpired:
            raise TmuxError(f"tmux {args[0]} did not answer within {TIMEOUT:.0f}s") from None
        if proc.returncode != 0:
            words = proc.stderr.strip().splitlines()
            line = words[0] if words else f"exit {proc.returncode}"
            if ok_missing and _MISSING.search(line):
                return ""
            raise TmuxError(f"tmux {args[0]} failed: {line}")
        return proc.stdout

    def check(self) -> tuple[int, int]:
        """The tmux version, or EnvironmentProblemError (exit 9) saying how to install one."""
        version = parse_version(self.run("-V"))
        if version is None or version < MIN_VERSION:
            shown = "unknown" if version is None else f"{version[0]}.{version[1]}"
            raise EnvironmentProblemError(f"tmux {shown} is too old for coord team", INSTALL_HINT)
        return version

    # -- sessions and windows -------------------------------------------------------------------
    def has_session(self, session: str) -> bool:
        return session in self.run("list-sessions", "-F", "#{session_name}", ok_missing=True).splitlines()

    def windows(self, session: str) -> list[Window]:
        """The session's windows ([] when the session or server does not exist)."""
        text = self.run("list-windows", "-t", f"={session}", "-F", _SEP.join(_FIELDS), ok_missing=True)
        return parse_windows(text)

    @staticmethod
    def _env_args(env: Mapping[str, str]) -> list[str]:
        args: list[str] = []
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        return args

    def new_session(self, session: str, window: str, cwd: str, env: Mapping[str, str], argv: Sequence[str]) -> str:
        """A detached session whose first window runs argv; returns the window id."""
        out = self.run("new-session", "-d", "-P", "-F", "#{window_id}", "-s", session, "-n", window, "-c", cwd,
                       "-x", "200", "-y", "50", *self._env_args(env), "--", *argv)
        return out.strip()

    def new_window(self, session: str, window: str, cwd: str, env: Mapping[str, str], argv: Sequence[str]) -> str:
        """A window at the end of the session running argv, not selected; returns its id."""
        out = self.run("new-window", "-d", "-P", "-F", "#{window_id}", "-t", f"={session}:", "-n", window, "-c", cwd,
                       *self._env_args(env), "--", *argv)
        return out.strip()

    def respawn(self, pane: str, cwd: str, env: Mapping[str, str], argv: Sequence[str]) -> None:
        """Start argv again in a pane whose program has exited (remain-on-exit)."""
        self.run("respawn-pane", "-t", pane, "-c", cwd, *self._env_args(env), "--", *argv)

    def send_text(self, pane: str, text: str, enter: bool = True) -> None:
        """Type text literally into a pane (then Enter): never interpreted as key names."""
        self.run("send-keys", "-t", pane, "-l", "--", text)
        if enter:
            self.run("send-keys", "-t", pane, "Enter")

    def send_keys(self, pane: str, *keys: str) -> None:
        self.run("send-keys", "-t", pane, *keys)

    def kill_window(self, window: str) -> None:
        self.run("kill-window", "-t", window, ok_missing=True)

    def capture(self, pane: str) -> str:
        return self.run("capture-pane", "-p", "-t", pane)

    def attach_argv(self, session: str, window: str | None, inside: bool) -> list[str]:
        """The client command that shows the session, the given window (an id) selected first:
        switch-client when already inside a client of this server, attach-session otherwise. The
        caller runs it with the terminal (os.execv), so the user's keys go straight to tmux."""
        if window:
            self.select_window(window)
        if inside:
            return [*self.base(), "switch-client", "-t", f"={session}"]
        return [*self.base(), "attach-session", "-t", f"={session}"]

    def socket_path(self) -> str:
        """This server's socket ("" when no server runs): what $TMUX names for a client inside it."""
        return self.run("list-sessions", "-F", "#{socket_path}", ok_missing=True).partition("\n")[0].strip()

    def select_window(self, target: str) -> None:
        self.run("select-window", "-t", target)

    def kill_server(self) -> None:
        self.run("kill-server", ok_missing=True)
