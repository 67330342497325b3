"""The merge loop's effects: gather what `coord.merge_notices.plan_notices` needs, store what it decides.

Called by the merge task after `agent.merge` succeeded; never undoes or fails the merge. Redis
down (or unreachable mid-way): the notices are not sent and the report says so in one line; git
trouble in the radar: the notices go out without the conflict check. Round trips: one pipeline
(the main role's pending mail, presence, the warned set), the radar's own (base pairs only), and
one script that acknowledges, delivers and records the announced conflicts atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from coord import git
from coord.config import Config
from coord.conflicts import RADAR_SENDER, PairResult
from coord.errors import CoordError, StoreUnavailableError
from coord.lua import Script
from coord.merge_notices import MergeEvent, NoticePlan, plan_notices
from coord.messages import Message
from coord.repo import RepoPaths
from coord.resp import Arg, items, number

if TYPE_CHECKING:
    from coord.store import Store
    from coord.worktree import MergeResult

# KEYS: pending:<main role>, warned, then per notice: inbox, pending
# ARGV: n_ack, ack ids..., n_forget, forget..., then per notice: recipient, type, body, fingerprint ('' none);
#       last: sender, ts
# -> {acknowledged count, id per notice...}
NOTIFY = Script(
    "merge_notify",
    r"""
local i = 1
local n = tonumber(ARGV[i]); i = i + 1
local acked = 0
for j = 1, n do acked = acked + redis.call('HDEL', KEYS[1], ARGV[i]); i = i + 1 end
n = tonumber(ARGV[i]); i = i + 1
for j = 1, n do redis.call('SREM', KEYS[2], ARGV[i]); i = i + 1 end
local sender, ts = ARGV[#ARGV - 1], ARGV[#ARGV]
local out = {acked}
local k = 3
while i <= #ARGV - 2 do
  local id = redis.call('XADD', KEYS[k], '*', 'sender', sender, 'recipient', ARGV[i], 'type', ARGV[i + 1],
    'body', ARGV[i + 2], 'ts', ts)
  redis.call('HSET', KEYS[k + 1], id, ARGV[i + 1])
  if ARGV[i + 3] ~= '' then redis.call('SADD', KEYS[2], ARGV[i + 3]) end
  out[#out + 1] = id
  i = i + 4
  k = k + 2
end
return out
""",
)


@dataclass
class NoticeReport:
    """What the merge loop did; `warnings` are one line each for the task to print."""

    plan: NoticePlan = field(default_factory=NoticePlan)
    sent: bool = False
    acknowledged: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {**self.plan.to_dict(), "sent": self.sent, "acknowledged_count": self.acknowledged,
                "warnings": list(self.warnings)}


def moved_by(paths: RepoPaths, previous: str, commit: str) -> int:
    """Commits the base branch gained (0 when it did not move)."""
    if not previous or previous == commit:
        return 0
    return int(git.out(paths.main_root, "rev-list", "--count", f"{previous}..{commit}"))


def event_for(paths: RepoPaths, config: Config, result: MergeResult) -> MergeEvent:
    """The merge loop's view of an agent.merge result."""
    moved = 0 if result.kind == "up-to-date" else moved_by(paths, result.previous, result.commit)
    return MergeEvent(result.role, result.branch, result.base, result.kind, result.commit, moved, config.main_role)


def _read(store: Store, main_role: str) -> tuple[list[Message], set[str], set[str], float]:
    from coord.claim_store import live_roles, presence_commands
    from coord.store_checks import MAX_LIMIT

    pending = store.check(main_role, limit=MAX_LIMIT).messages
    replies = store.pipeline([["SMEMBERS", store.keys.warned], *presence_commands(store), *store.time_commands()])
    members = replies[0]
    warned = {str(m) for m in members} if isinstance(members, list) else set()
    now = store.now_of(replies)  # the server's clock, the one message timestamps use
    return pending, warned, live_roles(store, replies[1], replies[2], now), now


def _base_results(paths: RepoPaths, config: Config, store: Store, report: NoticeReport) -> list[PairResult]:
    from coord import radar

    try:
        found = radar.run(paths, config, store, only=config.main_role, warn=False)
    except CoordError as exc:
        report.warnings.append(f"conflicts with the new base not checked: {exc.message}")
        return []
    return found.results


def _store(store: Store, plan: NoticePlan, main_role: str, now: float) -> int:
    k = store.keys
    keys = [k.pending(main_role), k.warned]
    args: list[Arg] = [len(plan.ack), *plan.ack, len(plan.forget), *plan.forget]
    for n in plan.notices:
        keys += [k.inbox(n.recipient), k.pending(n.recipient)]
        args += [n.recipient, n.type.value, n.body, n.fingerprint or ""]
    args += [RADAR_SENDER, repr(now)]
    reply = store.run_script(NOTIFY, keys, args)
    return int(number(items(reply)[0]))


def announce_merge(
    paths: RepoPaths, config: Config, event: MergeEvent, store: Store | None = None, until: float | None = None,
) -> NoticeReport:
    """Acknowledge, tell ROLE, tell the others (see coord.merge_notices). Never raises for Redis
    or git trouble: the merge already happened, so the report carries a warning instead."""
    report = NoticeReport()
    own = store is None
    try:
        if store is None:
            from coord.store import open_store

            store = open_store(paths, config, start_server=False)
        pending, warned, live, now = _read(store, config.main_role)
        results = _base_results(paths, config, store, report) if event.moved > 0 else []
        report.plan = plan_notices(event, pending, now if until is None else until, live, results, warned)
        report.acknowledged = _store(store, report.plan, config.main_role, now)
        report.sent = True
    except StoreUnavailableError as exc:
        report.warnings.append(f"merge notices not sent: {exc.message}")
    finally:
        if own and store is not None:
            store.close()
    return report
