"""File claims: which paths a role has reserved, and whether an edit or a new claim collides.

Pure decisions (values in, values out): the PreToolUse hook, the git pre-commit guard and the
MCP tools all ask these functions, so an edit, a commit and a claim are judged by one rule.

Patterns are repository-relative, '/'-separated: `*` is any run of characters inside one path
segment, `?` one character inside a segment, `[abc]`/`[a-z]`/`[!a]` a character class, `**` any
run across segments (`a/**/b` also matches `a/b`). A pattern also covers everything beneath it,
so claiming `src/api` claims `src/api/**` (a directory claim is the common case).

Two patterns overlap when at least one path matches both; the test is exact for the syntax above
(a search over the pair of patterns, not a guess from prefixes), so `src/*.py` and `src/api.*`
overlap while `src/*.py` and `docs/**` do not.

A claim counts while it has not expired AND its holder is live (coord.store_results.is_live). A claim of
a stale or ended holder has lapsed: nothing is blocked by it, and the next overlapping claim of
a live role removes it. A role is never blocked by its own claims.

The glob overlap test itself is coord.claim_globs'.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

from coord.catalog.claude import EDIT_TOOLS
from coord.claim_globs import _tokens, covers, patterns_overlap
from coord.errors import ConfigError, InvalidInputError
from coord.texts import left

PATH_FIELDS: tuple[str, ...] = ("file_path", "notebook_path")  # where those tools name their file

MAX_PATTERN = 1024  # characters; bounds the overlap search (states = product of both lengths)
MAX_PATTERNS = 100  # per claim or release call
MAX_REASON = 500
MAX_TTL_SECONDS = 7 * 24 * 3600

# What the PreToolUse hook and the pre-commit guard do when Redis cannot be reached.
OFFLINE_ALLOW = "allow"  # default: edits go on unchecked (a coordination outage must not freeze every agent)
OFFLINE_DENY = "deny"  # strict: every claimed-path check fails closed until Redis is back
OFFLINE_POLICIES: tuple[str, ...] = (OFFLINE_ALLOW, OFFLINE_DENY)


# ---------------------------------------------------------------------------------------------
# The claim record.


@dataclass(frozen=True)
class Claim:
    """One reservation as stored (JSON under its pattern in the claims hash)."""

    pattern: str
    role: str
    reason: str
    claimed_at: float
    expires_at: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, pattern: str, raw: str) -> Claim | None:
        """None for a corrupt record: it is ignored (and replaced by the next claim), never fatal."""
        try:
            data = json.loads(raw)
            return cls(
                pattern=pattern,
                role=str(data["role"]),
                reason=str(data.get("reason", "")),
                claimed_at=float(data.get("claimed_at", 0.0)),
                expires_at=float(data["expires_at"]),
            )
        except (ValueError, KeyError, TypeError):
            return None


LIVE = "live"
EXPIRED = "expired"
LAPSED = "lapsed"  # the holder is stale, ended or absent


def claim_status(claim: Claim, live_roles: Iterable[str], now: float) -> str:
    """live, expired (its TTL ran out) or lapsed (its holder is not live)."""
    if now >= claim.expires_at:
        return EXPIRED
    return LIVE if claim.role in set(live_roles) else LAPSED


# ---------------------------------------------------------------------------------------------
# Checking input.


def check_pattern(raw: object) -> str:
    """A repository-relative pattern, normalised ('./' and repeated '/' dropped, no trailing '/').

    Refused: empty, absolute (pass it through to_repo_pattern first), '..' segments, control
    characters, over MAX_PATTERN characters, or an unclosed '['.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInputError("empty path or pattern", "name a file, folder or glob relative to the repository root")
    text = raw.strip().replace("\\", "/")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise InvalidInputError(f"pattern {text[:60]!r} has control characters", "use a plain path or glob")
    if text.startswith("/"):
        raise InvalidInputError(
            f"pattern {text[:60]!r} is absolute", "give it relative to the repository root, e.g. src/api/**"
        )
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts:
        raise InvalidInputError(f"pattern {raw[:60]!r} names the whole repository", "claim folders or files")
    if ".." in parts:
        raise InvalidInputError(f"pattern {text[:60]!r} climbs out with '..'", "give it relative to the root")
    norm = "/".join(parts)
    if len(norm) > MAX_PATTERN:
        raise InvalidInputError(f"pattern is {len(norm)} characters", f"use at most {MAX_PATTERN}")
    _tokens(norm)  # raises on an unclosed class
    return norm


def check_patterns(raw: object) -> list[str]:
    """A non-empty list of distinct checked patterns, order kept."""
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, (list, tuple)) or not raw:
        raise InvalidInputError("no paths given", "pass a list of paths or globs, e.g. [\"src/api/**\"]")
    if len(raw) > MAX_PATTERNS:
        raise InvalidInputError(f"{len(raw)} patterns in one call", f"pass at most {MAX_PATTERNS}")
    return list(dict.fromkeys(check_pattern(p) for p in raw))


def check_reason(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInputError("a claim needs a reason", "say what you do there, e.g. \"rewriting the auth flow\"")
    text = " ".join(raw.split())
    if len(text) > MAX_REASON:
        raise InvalidInputError(f"reason is {len(text)} characters", f"keep it under {MAX_REASON}")
    return text


def check_ttl(raw: object, default: int) -> int:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_TTL_SECONDS:
        raise InvalidInputError(f"ttl_seconds must be a whole number from 1 to {MAX_TTL_SECONDS}", f"got {raw!r}")
    return raw


def check_offline_policy(value: str) -> str:
    if value not in OFFLINE_POLICIES:
        raise ConfigError(
            f"claims_when_offline is {value!r}", f"use one of: {', '.join(OFFLINE_POLICIES)}"
        )
    return value


def to_repo_pattern(raw: str, cwd: str, toplevel: str) -> str:
    """A path as an agent may write it (absolute inside its checkout, or relative to it) as a
    repository-relative pattern. Globs pass through; only the checkout prefix is removed."""
    text = raw.strip()
    if text.startswith("/"):
        top = toplevel.rstrip("/") + "/"
        if not (text + "/").startswith(top):
            raise InvalidInputError(f"{text[:80]} is outside this checkout ({toplevel})", "claim repository paths")
        text = text[len(top):]
    elif cwd.rstrip("/") != toplevel.rstrip("/") and (cwd + "/").startswith(toplevel.rstrip("/") + "/"):
        text = posixpath.join(cwd[len(toplevel.rstrip("/")) + 1:], text)
    return check_pattern(posixpath.normpath(text) if ".." in text.split("/") else text)


def repo_relative(path: str, cwd: str, toplevel: str, main_root: str, worktree_dir: str) -> str | None:
    """The repository-relative path of a file an agent is about to edit, whichever checkout it is
    in (its own worktree, another agent's, or the main checkout). None when it is outside all of
    them (no claim can cover it). Pure string work: the caller resolves symlinks first."""
    if not path:
        return None
    full = posixpath.normpath(path if path.startswith("/") else posixpath.join(cwd or toplevel, path))
    main = main_root.rstrip("/")
    trees = f"{main}/{worktree_dir.strip('/')}/"
    if full.startswith(trees):
        _role, sep, rel = full[len(trees):].partition("/")
        return rel if sep and rel else None
    for root in (main, toplevel.rstrip("/")):
        if full.startswith(root + "/"):
            return full[len(root) + 1:] or None
    return None


def edited_paths(tool_name: object, tool_input: object) -> list[str]:
    """The file(s) an edit tool call is about to change (empty for any other tool)."""
    if tool_name not in EDIT_TOOLS or not isinstance(tool_input, Mapping):
        return []
    found = []
    for name in PATH_FIELDS:
        value = tool_input.get(name)
        if isinstance(value, str) and value.strip():
            found.append(value.strip())
    return found


# ---------------------------------------------------------------------------------------------
# Decisions.


@dataclass(frozen=True)
class Refusal:
    """A requested pattern that collides with a live claim of another role."""

    pattern: str
    holder: Claim

    def to_dict(self) -> dict[str, object]:
        return {"pattern": self.pattern, "holder": self.holder.to_dict()}


@dataclass(frozen=True)
class ClaimDecision:
    """What a claim request does: granted patterns, refusals, and stored claims to delete (expired
    ones, lapsed ones of other roles that the new claims overlap)."""

    granted: tuple[str, ...]
    refused: tuple[Refusal, ...]
    remove: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.refused


def decide_claim(
    role: str, patterns: Sequence[str], existing: Iterable[Claim], live_roles: Iterable[str], now: float
) -> ClaimDecision:
    """All or nothing: if any requested pattern overlaps a live claim of another role, nothing is
    granted (a half-granted set would let an agent start on work it cannot finish)."""
    live = set(live_roles)
    stored = list(existing)
    refused: list[Refusal] = []
    remove: set[str] = set()
    for claim in stored:
        if claim_status(claim, live, now) == EXPIRED:
            remove.add(claim.pattern)
    for pattern in patterns:
        for claim in stored:
            if claim.role == role or claim_status(claim, live, now) == EXPIRED:
                continue
            if not patterns_overlap(pattern, claim.pattern):
                continue
            if claim_status(claim, live, now) == LIVE:
                refused.append(Refusal(pattern, claim))
            else:
                remove.add(claim.pattern)  # lapsed: its holder is not live
    if refused:
        return ClaimDecision((), tuple(refused), ())
    # The requester's own claim on the same pattern is rewritten in place, never removed.
    remove -= set(patterns)
    return ClaimDecision(tuple(patterns), (), tuple(sorted(remove)))


def blocking_claim(
    role: str, path: str, claims: Iterable[Claim], live_roles: Iterable[str], now: float
) -> Claim | None:
    """The live claim of ANOTHER role that covers path, or None (the edit may go ahead)."""
    live = set(live_roles)
    for claim in claims:
        if claim.role == role or claim_status(claim, live, now) != LIVE:
            continue
        if covers(claim.pattern, path):
            return claim
    return None


def describe_claim(claim: Claim, now: float) -> str:
    until = left(claim.expires_at - now)
    return f"claimed by {claim.role} (reason: \"{claim.reason}\"; pattern {claim.pattern}; {until})"


def refusal_line(refusals: Sequence[Refusal], now: float) -> str:
    """One line for a refused claim: each requested pattern and who holds what overlaps it."""
    parts = [f"{r.pattern} overlaps {r.holder.pattern}, {describe_claim(r.holder, now)}" for r in refusals]
    return "; ".join(parts)


def deny_reason(path: str, claim: Claim, now: float, tool_prefix: str = "coord_") -> str:
    """Why an edit was refused, for the model: the holder, its reason, and what to do instead."""
    return (
        f"coord: {path} is {describe_claim(claim, now)}. The edit was not made. Ask {claim.role} to "
        f"release it (send a QUESTION with {tool_prefix}publish_message), or work on other files; "
        f"{tool_prefix}get_claims lists every claim."
    )


def pre_tool_use_deny(reason: str) -> dict[str, object]:
    """The PreToolUse answer that refuses the tool call and hands the reason to the model."""
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": reason,
        }
    }


def offline_decision(policy: str) -> bool:
    """True when an edit may go on although Redis cannot be reached."""
    return check_offline_policy(policy) == OFFLINE_ALLOW
