"""Codex CLI's trust of a project and of its hooks, read from Codex itself, and the exact lines that
trust them: for `coord doctor` (which explains, never edits a user's config) and for tests that set
trust up the way a user accepting Codex's prompts would.

Codex reads a project's `.codex/` only when `$CODEX_HOME/config.toml` says `[projects."<path>"]
trust_level = "trusted"`, and runs a project hook only when `[hooks.state."<key>"] trusted_hash`
equals the hook's current hash (a changed command needs trusting again). The key holds the absolute
path of the hooks file, so every worktree's hooks are trusted on their own. The hashes come from
Codex's own `codex app-server` (JSON-RPC over stdio: initialize, then `hooks/list`), never from a
copy of its algorithm.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from coord.catalog import codex
from coord.errors import EnvironmentProblemError

APP_SERVER_TIMEOUT = 60.0  # seconds for `codex app-server` to start and list hooks on a loaded machine


@dataclass(frozen=True)
class HookTrust:
    """One hook as Codex sees it."""

    key: str
    event: str
    command: str
    current_hash: str
    status: str  # trusted | untrusted | modified | managed

    @property
    def is_coord(self) -> bool:
        return codex.LAUNCHER_PATH in self.command

    @property
    def runs(self) -> bool:
        return self.status in ("trusted", "managed")


def codex_home(environ: Mapping[str, str]) -> Path:
    """$CODEX_HOME, else ~/.codex."""
    given = environ.get("CODEX_HOME", "").strip()
    return Path(given) if given else Path(environ.get("HOME", str(Path.home()))) / ".codex"


def list_hooks(codex_bin: str, cwd: Path, environ: Mapping[str, str]) -> list[HookTrust]:
    """Every hook Codex discovers for a session in cwd, with its trust (EnvironmentProblemError when
    Codex cannot be asked)."""
    requests = [
        {"id": 1, "method": "initialize",
         "params": {"clientInfo": {"name": "coord", "version": "1"}, "capabilities": {"experimentalApi": True}}},
        {"method": "initialized"},
        {"id": 2, "method": "hooks/list", "params": {"cwds": [str(cwd)]}},
    ]
    try:
        proc = subprocess.Popen([codex_bin, "app-server"], cwd=cwd, env=dict(environ), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    except OSError as exc:
        raise EnvironmentProblemError(f"cannot start {codex_bin} app-server: {exc.strerror}",
                                      "install Codex CLI (npm install -g @openai/codex)") from None
    answer: dict[str, object] | None = None
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("".join(json.dumps(r) + "\n" for r in requests))
        proc.stdin.flush()
        import threading

        def read() -> None:
            nonlocal answer
            assert proc.stdout is not None
            for line in proc.stdout:  # the reply, among notifications (config warnings, status)
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if isinstance(message, dict) and message.get("id") == 2:
                    answer = message
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(APP_SERVER_TIMEOUT)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    result = answer.get("result") if answer is not None else None
    if not isinstance(result, dict):
        raise EnvironmentProblemError(f"{codex_bin} app-server did not list its hooks",
                                      "check that this Codex CLI supports hooks (codex --version)")
    return parse_hook_list(result)


def parse_hook_list(result: Mapping[str, object]) -> list[HookTrust]:
    """hooks/list's result -> HookTrust rows (pure)."""
    rows: list[HookTrust] = []
    data = result.get("data")
    for entry in data if isinstance(data, list) else []:
        hooks = entry.get("hooks") if isinstance(entry, dict) else None
        for hook in hooks if isinstance(hooks, list) else []:
            if isinstance(hook, dict) and isinstance(hook.get("key"), str):
                rows.append(HookTrust(hook["key"], str(hook.get("eventName", "")), str(hook.get("command") or ""),
                                      str(hook.get("currentHash", "")), str(hook.get("trustStatus", ""))))
    return rows


def _quote(text: str) -> str:
    return json.dumps(text)  # a TOML basic string is a JSON string for these characters


def project_trusted(config_text: str, folder: Path) -> bool:
    """Whether $CODEX_HOME/config.toml trusts folder (pure; unparsable config: not trusted)."""
    import tomllib

    try:
        data = tomllib.loads(config_text)
    except tomllib.TOMLDecodeError:
        return False
    projects = data.get("projects")
    entry = projects.get(str(folder)) if isinstance(projects, dict) else None
    return isinstance(entry, dict) and entry.get("trust_level") == "trusted"


def trust_lines(folders: Sequence[Path], hooks: Sequence[HookTrust]) -> str:
    """The TOML a user adds to $CODEX_HOME/config.toml to trust these project folders and coord's
    hooks in them (what accepting Codex's prompts records)."""
    lines: list[str] = []
    for folder in folders:
        lines += [f"[projects.{_quote(str(folder))}]", 'trust_level = "trusted"', ""]
    for hook in hooks:
        lines += [f"[hooks.state.{_quote(hook.key)}]", f"trusted_hash = {_quote(hook.current_hash)}", ""]
    return "\n".join(lines)


def find_codex(environ: Mapping[str, str]) -> str | None:
    """COORD_CODEX_BIN, else `codex` on PATH."""
    import shutil

    wanted = environ.get("COORD_CODEX_BIN", "").strip() or "codex"
    if os.path.isabs(wanted):
        return wanted if os.access(wanted, os.X_OK) else None
    return shutil.which(wanted, path=environ.get("PATH"))
