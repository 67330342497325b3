"""Who hears about a merge, and what they are told: the decisions of the merge loop.

Pure (values in, values out). coord.merge_notifier gathers the facts (the main role's pending
mail, who is live, the radar's base-branch pairs) and stores what `plan_notices` decides, in one
atomic script.

After `coord agent.merge ROLE` moved the base branch:
- the main role's pending MERGE_READY messages from ROLE (sent before the merge) are
  acknowledged: the request is done;
- ROLE is told its branch was merged (INFO), whatever its presence: the answer waits in its inbox;
- every other live agent gets ONE message that the base moved, with how many commits and whether
  its branch now conflicts with the new base (the radar's merge-tree result): INFO when it merges
  cleanly, CONFLICT_WARNING when it does not. Agents that are not live get nothing: mail about a
  base that may move again before they return is noise, and when they come back their MCP
  server's radar announces a conflict with the base within one heartbeat;
- the main role gets one INFO summary (its checkout moved, and which agents now conflict).
A conflict announced here is recorded in the radar's warned set under the radar's own
fingerprint, so the radar does not announce the same collision a second time.
An up-to-date "merge" moved nothing: only the acknowledgement and ROLE's notice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from coord.conflicts import CONFLICT, ERROR, PairResult, fingerprint, pair_key
from coord.messages import Message, MessageType

SHOWN_FILES = 10  # conflicting files named in a notice; the rest are counted
SYNC_COMMAND = "coord agent.sync"


@dataclass(frozen=True)
class MergeEvent:
    """What one successful `agent.merge` did (from its MergeResult and git)."""

    role: str
    branch: str
    base: str
    kind: str  # "fast-forward", "merge" or "up-to-date"
    commit: str  # the base branch's tip after the merge
    moved: int  # commits the base branch gained (0 when up to date)
    main_role: str

    @property
    def short(self) -> str:
        return self.commit[:8]


@dataclass(frozen=True)
class Notice:
    """One message to store. fingerprint: the radar's warned-set entry this conflict counts as."""

    recipient: str
    type: MessageType
    body: str
    fingerprint: str | None = None


@dataclass(frozen=True)
class NoticePlan:
    ack: tuple[str, ...] = ()  # ids of the main role's MERGE_READY messages to acknowledge
    notices: tuple[Notice, ...] = ()
    forget: tuple[str, ...] = ()  # warned-set entries replaced by a conflict announced here
    conflicting: dict[str, tuple[str, ...]] = field(default_factory=dict)  # live agent -> conflicting files

    def to_dict(self) -> dict[str, object]:
        return {
            "acknowledged": list(self.ack),
            "notices": [{"recipient": n.recipient, "type": n.type.value, "body": n.body} for n in self.notices],
            "conflicting": {role: list(files) for role, files in self.conflicting.items()},
        }


def merge_ready_ids(pending: Iterable[Message], role: str, until: float) -> tuple[str, ...]:
    """The main role's pending MERGE_READY messages from role, sent no later than until (the
    merge's end): a request sent after the merge may be about newer commits, so it stays."""
    return tuple(
        m.id for m in pending
        if m.type == MessageType.MERGE_READY.value and m.sender == role and m.timestamp <= until
    )


def _files(files: Sequence[str]) -> str:
    shown = ", ".join(files[:SHOWN_FILES])
    return shown + (f" and {len(files) - SHOWN_FILES} more" if len(files) > SHOWN_FILES else "")


def _commits(n: int) -> str:
    return f"{n} commit{'' if n == 1 else 's'}"


def merged_body(event: MergeEvent) -> str:
    """ROLE's notice: its work landed (or already had)."""
    if event.kind == "up-to-date":
        return f"coord: your branch {event.branch} is already in {event.base} ({event.short}); nothing was merged."
    how = "fast-forward" if event.kind == "fast-forward" else "merge commit"
    text = f"coord: your branch {event.branch} was merged into {event.base} ({how} {event.short})."
    if event.kind == "merge":
        text += f" `{SYNC_COMMAND}` brings the merge commit into your branch (a fast-forward)."
    return text


def moved_notice(event: MergeEvent, role: str, branch: str | None, result: PairResult | None) -> Notice:
    """A live agent's one notice that the base moved, with its branch's state against the new base."""
    head = f"coord: {event.base} moved {_commits(event.moved)} ({event.role}'s branch merged, now {event.short})."
    if result is not None and result.status == CONFLICT:
        files = list(result.conflicted)
        body = (
            f"{head} Your branch {branch} now conflicts with it in: {_files(files)}. Run `{SYNC_COMMAND}` in "
            f"your worktree: it lists the files; resolve them there with `git merge {event.base}` and commit."
        )
        return Notice(role, MessageType.CONFLICT_WARNING, body, fingerprint(event.main_role, role, files))
    if result is None or result.status == ERROR:
        why = f" ({result.error})" if result is not None and result.error else ""
        body = f"{head} coord could not check your branch against it{why}; `coord agent.conflicts` shows the state."
        return Notice(role, MessageType.INFO, body)
    return Notice(role, MessageType.INFO, f"{head} Your branch {branch} merges with it cleanly; "
                                          f"`{SYNC_COMMAND}` brings it in when convenient.")


def summary_body(event: MergeEvent, acked: int, conflicting: Mapping[str, Sequence[str]]) -> str:
    """The main role's notice: its checkout moved; who must sync before their next merge."""
    text = f"coord: merged {event.branch} into {event.base} ({event.kind}, {event.short}, {_commits(event.moved)})."
    if acked:
        text += f" Acknowledged {acked} MERGE_READY from {event.role}."
    if conflicting:
        who = "; ".join(f"{role} ({_files(list(files))})" for role, files in sorted(conflicting.items()))
        text += f" Now conflicting with {event.base}: {who}. They were told to run `{SYNC_COMMAND}`."
    return text


def plan_notices(
    event: MergeEvent,
    main_pending: Iterable[Message],
    until: float,
    live: Iterable[str],
    base_results: Iterable[PairResult],
    warned: Iterable[str] = (),
) -> NoticePlan:
    """Every acknowledgement and message one merge causes (see the module docstring).

    base_results: the radar's pairs of the base branch against agent branches, computed after
    the merge. live: the roles live right now. warned: the radar's warned set.
    """
    ack = merge_ready_ids(main_pending, event.role, until)
    notices = [Notice(event.role, MessageType.INFO, merged_body(event))]
    if event.kind == "up-to-date" or event.moved <= 0:
        return NoticePlan(ack, tuple(notices))
    by_role: dict[str, PairResult] = {}
    for r in base_results:
        if r.pair.a.base != r.pair.b.base:  # exactly one side is the base branch
            agent = r.pair.b if r.pair.a.base else r.pair.a
            by_role[agent.role] = r
    known = set(warned)
    forget: set[str] = set()
    conflicting: dict[str, tuple[str, ...]] = {}
    others = sorted(set(live) - {event.role, event.main_role})
    for role in others:
        result = by_role.get(role)
        branch = None
        if result is not None:
            branch = (result.pair.b if result.pair.a.base else result.pair.a).branch
        notice = moved_notice(event, role, branch, result)
        notices.append(notice)
        if notice.fingerprint is not None and result is not None:
            conflicting[role] = tuple(result.conflicted)
            prefix = pair_key(event.main_role, role) + "|"
            forget |= {m for m in known if m.startswith(prefix) and m != notice.fingerprint}
    notices.append(Notice(event.main_role, MessageType.INFO, summary_body(event, len(ack), conflicting)))
    return NoticePlan(ack, tuple(notices), tuple(sorted(forget)), conflicting)


def describe(event: MergeEvent, plan: NoticePlan, acknowledged: int) -> str:
    """One line for whoever ran the merge: who was told what."""
    others = [n.recipient for n in plan.notices if n.recipient not in (event.role, event.main_role)]
    parts = [f"told {event.role} it was merged"]
    if others:
        parts.append(f"told {', '.join(others)} that {event.base} moved")
    if plan.conflicting:
        parts.append("now conflicting: " + "; ".join(
            f"{role} ({_files(list(files))})" for role, files in sorted(plan.conflicting.items())))
    if acknowledged:
        parts.append(f"acknowledged {acknowledged} MERGE_READY from {event.role}")
    return "notices: " + "; ".join(parts)
