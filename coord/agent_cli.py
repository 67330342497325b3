"""Which agent CLI a role runs and the line that starts it (pure): `coord session.start ROLE
--agent claude|codex|gemini` prints or execs it. Claude Code keeps its CLAUDE_INSTANCE_ID line (still
honoured); Codex CLI and Gemini CLI get COORD_ROLE, the agent-neutral variable (coord.identity)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping

from coord.config import KNOWN_AGENTS, Config
from coord.errors import ConfigError, InvalidInputError
from coord.identity import INSTANCE_ENV, ROLE_ENV

PROGRAMS = {"claude": "claude", "codex": "codex", "gemini": "gemini"}
INSTALL = {
    "claude": "npm install -g @anthropic-ai/claude-code",
    "codex": "npm install -g @openai/codex",
    "gemini": "npm install -g @google/gemini-cli",
}


def bin_env(agent: str) -> str:
    """The variable that points coord at another binary of this CLI (tests, unusual installs)."""
    return f"COORD_{agent.upper()}_BIN"


def agent_of_command(command: str) -> str | None:
    """The known CLI a command line starts (`codex --model x` -> codex), None for anything else."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    program = os.path.basename(words[0]) if words else ""
    return program if program in KNOWN_AGENTS else None


def choose_agent(config: Config, role: str, asked: str | None) -> str:
    """--agent, else the CLI the role's agent_command starts, else claude. A CLI the project has not
    set up (the agents setting) is refused: its files were never rendered, so it would run
    uncoordinated."""
    agent = asked or agent_of_command(config.agent_command_for(role)) or "claude"
    if agent not in KNOWN_AGENTS:
        raise InvalidInputError(f"unknown agent CLI {agent!r}", f"use one of: {', '.join(KNOWN_AGENTS)}")
    if agent not in config.agents:
        raise ConfigError(
            f"{agent} is not in this project's agents setting ({', '.join(config.agents)}), "
            "so its files are not rendered",
            f'add "{agent}" to agents in coord.toml, run coord init and commit',
        )
    return agent


def identity_env(agent: str, role: str) -> dict[str, str]:
    """What the agent's process gets: COORD_ROLE always, CLAUDE_INSTANCE_ID for Claude Code too."""
    env = {ROLE_ENV: role}
    if agent == "claude":
        env[INSTANCE_ENV] = role
    return env


def start_line(agent: str, role: str) -> str:
    """`CLAUDE_INSTANCE_ID=backend claude`, `COORD_ROLE=qa codex`, `COORD_ROLE=docs gemini`."""
    variable = INSTANCE_ENV if agent == "claude" else ROLE_ENV
    return f"{variable}={role} {PROGRAMS[agent]}"


def trust_note(agent: str) -> str | None:
    """What the CLI asks before it runs coord's hooks, and where coord explains it."""
    if agent == "codex":
        return ("Codex runs a project's hooks and MCP servers only once the folder and each hook are trusted: "
                "`coord doctor` lists the exact lines for $CODEX_HOME/config.toml (or trust them in codex's /hooks)")
    if agent == "gemini":
        return ("Gemini CLI asks to trust the folder before it loads .gemini/settings.json: accept it once "
                "(headless runs: GEMINI_CLI_TRUST_WORKSPACE=true); `coord doctor` explains it")
    return None


def binary_name(agent: str, environ: Mapping[str, str]) -> str:
    return environ.get(bin_env(agent)) or PROGRAMS[agent]
