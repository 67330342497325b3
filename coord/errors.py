"""One exception hierarchy; every user-facing failure carries its exit code and a fix.

The faces (tasks, hooks, MCP tools) turn a CoordError into one line and its code, so a
user never sees a traceback for something they can correct.
"""

from __future__ import annotations


class CoordError(Exception):
    """Base of every error coord reports to a user. Subclasses fix the exit code."""

    exit_code: int = 10

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def line(self) -> str:
        """The single line printed to the user: what is wrong, then how to fix it."""
        text = f"coord: {self.message}"
        if self.fix:
            text += f" ({self.fix})"
        return text.replace("\n", " ")


class MergeConflictError(CoordError):
    """A merge would conflict; nothing was touched."""

    exit_code = 1

    def __init__(self, message: str, fix: str | None = None, files: tuple[str, ...] = ()) -> None:
        super().__init__(message, fix)
        self.files = files


class InvalidInputError(CoordError):
    """A bad role, ref, type, body or option: the caller must change the input."""

    exit_code = 2


class NotFoundError(CoordError):
    """A branch, worktree, role registration or message that does not exist."""

    exit_code = 3


class SessionEndedError(NotFoundError):
    """This session already ended (its record is inactive): an automatic heartbeat or a late
    start-up registration must not bring it back to life; only an explicit registration may."""


class DirtyStateError(CoordError):
    """Uncommitted work or a checkout on the wrong branch blocks a step that could lose it."""

    exit_code = 4


class StoreUnavailableError(CoordError):
    """The coordination Redis cannot be reached."""

    exit_code = 5


class NotDurableError(StoreUnavailableError):
    """A write reached the primary but not `replicas_to_ack` replicas in time: it is not reported
    as done, because a failover could lose it."""


class IdentityError(CoordError):
    """The role is held by another live session, or the identity does not match the checkout."""

    exit_code = 6


class GitError(CoordError):
    """git failed in a way coord did not expect; the message carries git's own words."""

    exit_code = 7


class ConfigError(CoordError):
    """coord.toml or a COORD_<KEY> variable holds a value coord cannot use."""

    exit_code = 8


class SettingsError(ConfigError):
    """Several settings are wrong at once: each problem gets its own line (fixing one at a time,
    rerunning after each, is what a single-problem error would make a user do)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)

    def line(self) -> str:
        return "\n".join(f"coord: {p}".replace("\n", " ") for p in self.problems)


class EnvironmentProblemError(CoordError):
    """Not inside a git repository, or a required program (claude, git) is missing."""

    exit_code = 9


class ConfirmationRequiredError(CoordError):
    """A destructive step needs a flag or a terminal answer, and none was given."""

    exit_code = 11


class DriftError(CoordError):
    """Generated files (Claude Code settings, hooks, rules, .mcp.json) differ from the templates."""

    exit_code = 12


class ClaimConflictError(CoordError):
    """A path is claimed by another live role: a claim overlapping it, or a commit touching it, is refused."""

    exit_code = 13


EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "merge conflict (nothing was changed; the conflicting files are listed)",
    2: "invalid input or usage (bad role, ref, message type or body)",
    3: "not found (branch, worktree, registration)",
    4: "uncommitted changes or wrong branch block the step",
    5: "the coordination Redis cannot be reached (or did not replicate a write in time)",
    6: "identity refused (role held by another live session, or wrong checkout)",
    7: "unexpected git failure",
    8: "bad configuration (coord.toml or COORD_<KEY>)",
    9: "environment problem (not a git repository, a program missing)",
    10: "other coord error",
    11: "confirmation required (pass --yes, --merge or --abandon)",
    12: "generated Claude Code files are missing or out of date (run coord init and commit)",
    13: "a path is claimed by another live role (claim or commit refused; the holder and reason are named)",
}
