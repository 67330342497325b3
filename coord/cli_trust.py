"""`coord doctor`'s checks for Codex CLI and Gemini CLI: is the CLI there, does it trust this checkout
and coord's hooks in it, and if not, the exact fix. coord never edits a user's own configuration
($CODEX_HOME/config.toml, ~/.gemini/): it prints what accepting the CLI's prompt would record.

Codex: a project's `.codex/` is read only when `[projects."<checkout>"] trust_level = "trusted"`,
and each project hook runs only when `[hooks.state."<key>"] trusted_hash` matches it (a changed
hook needs trusting again); the hashes come from Codex itself (coord.codex_trust).
Gemini CLI: a folder must be trusted (the trust dialog records it in ~/.gemini/trustedFolders.json;
headless runs take GEMINI_CLI_TRUST_WORKSPACE=true); project hooks then run after a warning that
lists them, and Gemini asks again when their commands change.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path

from coord import codex_trust
from coord.errors import DriftError, EnvironmentProblemError


def append_command(lines: str, target: Path) -> str:
    """One shell line that appends these TOML lines to target (doctor prints one line per check)."""
    import shlex

    parts = " ".join(shlex.quote(line) for line in lines.strip().splitlines() if line.strip())
    return f"printf '%s\\n' {parts} >> {shlex.quote(str(target))}"


def codex_check(toplevel: Path, environ: Mapping[str, str]) -> str:
    """ok: Codex trusts this checkout and every coord hook in it. Otherwise the lines to add."""
    binary = codex_trust.find_codex(environ)
    if binary is None:
        raise EnvironmentProblemError("codex is not on PATH (agents names codex)",
                                      "npm install -g @openai/codex, or set COORD_CODEX_BIN")
    home = codex_trust.codex_home(environ)
    config = home / "config.toml"
    try:
        text = config.read_text(encoding="utf-8")
    except OSError:
        text = ""
    if not codex_trust.project_trusted(text, toplevel):
        lines = codex_trust.trust_lines([toplevel], [])
        raise DriftError(f"Codex does not trust {toplevel}, so it ignores .codex/ (coord's MCP server and hooks)",
                         f"run codex there once and trust the folder, or run: {append_command(lines, config)}")
    hooks = [h for h in codex_trust.list_hooks(binary, toplevel, environ) if h.is_coord]
    if not hooks:
        raise DriftError("Codex lists none of coord's hooks here", "run `coord init` and commit .codex/")
    waiting = [h for h in hooks if not h.runs]
    if waiting:
        events = ", ".join(f"{h.event} ({h.status})" for h in waiting)
        raise DriftError(f"Codex will not run coord's hooks until they are trusted: {events}",
                         "trust them in codex's /hooks view, or run: "
                         f"{append_command(codex_trust.trust_lines([], waiting), config)}")
    return f"Codex trusts {toplevel} and runs coord's {len(hooks)} hooks"


def gemini_trusted_folder(folders: Mapping[str, object], toplevel: Path) -> bool:
    """Whether trustedFolders.json's entries trust toplevel (the folder itself, or a parent's folder
    trusted with TRUST_PARENT / a folder trusted with TRUST_FOLDER above it)."""
    here = toplevel.resolve()
    for raw, level in folders.items():
        folder = Path(raw)
        if level == "TRUST_FOLDER" and (here == folder or folder in here.parents):
            return True
        if level == "TRUST_PARENT" and (here == folder.parent or folder.parent in here.parents):
            return True
    return False


def gemini_check(toplevel: Path, environ: Mapping[str, str]) -> str:
    binary = environ.get("COORD_GEMINI_BIN") or shutil.which("gemini", path=environ.get("PATH"))
    if not binary:
        raise EnvironmentProblemError("gemini is not on PATH (agents names gemini)",
                                      "npm install -g @google/gemini-cli, or set COORD_GEMINI_BIN")
    if environ.get("GEMINI_CLI_TRUST_WORKSPACE", "").lower() == "true":
        return "GEMINI_CLI_TRUST_WORKSPACE=true: Gemini CLI trusts this workspace and runs coord's hooks"
    store = Path(environ.get("HOME", str(Path.home()))) / ".gemini" / "trustedFolders.json"
    try:
        folders = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        folders = {}
    if not isinstance(folders, dict) or not gemini_trusted_folder(folders, toplevel):
        raise DriftError(f"Gemini CLI does not trust {toplevel}, so it ignores .gemini/settings.json "
                         "(coord's MCP server and hooks)",
                         f'start gemini there once and choose "Trust folder" (it records "{toplevel}": '
                         f'"TRUST_FOLDER" in {store}); headless runs: GEMINI_CLI_TRUST_WORKSPACE=true. Gemini '
                         "then lists coord's project hooks and asks again whenever their commands change")
    return f"Gemini CLI trusts {toplevel}; it lists coord's project hooks at start and asks again if they change"
