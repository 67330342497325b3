"""Many real `coord mcp` sessions heartbeating and exchanging messages at once, every message
checked: delivered to every recipient exactly as sent, none lost, none left unacknowledged.

One task per session in one event loop; each session is a real MCP stdio client talking to its
own `coord mcp` process started in the role's worktree (as Claude Code starts it)."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp.client import Client

from tests.stress.support import mcp_params, tool

Record = tuple[str, str, str]  # sender, type, body


def random_body(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.4:
        text = " ".join(rng.choice(["build", "the", "api", "ok", "done", "é", "✓", "日本", "🙂"]) for _ in range(12))
    elif pick < 0.6:
        text = json.dumps({"task": rng.randint(0, 10**9), "files": ["a.py", "b/c.ts"], "note": "x\ny"})
    elif pick < 0.8:
        text = "".join(chr(rng.choice([rng.randint(1, 31), rng.randint(32, 0x2FFF), 0x1F600])) for _ in range(60))
    elif pick < 0.98:
        text = "line\r\n" * rng.randint(1, 2000)
    else:
        text = "z" * 65536
    return text if text.strip() else text + "."


@dataclass
class Figures:
    sessions: int
    seconds: float
    published: int = 0
    deliveries: int = 0
    received: int = 0
    tool_calls: int = 0
    start_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    sent: dict[str, dict[str, Record]] = field(default_factory=dict)
    got: dict[str, dict[str, Record]] = field(default_factory=dict)
    leftover: dict[str, int] = field(default_factory=dict)
    stale_seen: list[str] = field(default_factory=list)


async def run_exchange(repo: Path, roles: Sequence[str], env: Mapping[str, str], seconds: float,
                       seed: int = 7, max_starting: int = 6) -> Figures:
    figures = Figures(len(roles), seconds)
    figures.sent = {r: {} for r in roles}
    figures.got = {r: {} for r in roles}
    ready = 0
    all_ready = anyio.Event()
    sending_done = 0
    all_sent = anyio.Event()
    starting = anyio.Semaphore(max_starting)
    begin = time.monotonic()

    def mark_ready() -> None:
        nonlocal ready
        ready += 1
        if ready == len(roles):
            figures.start_seconds = time.monotonic() - begin
            all_ready.set()

    def mark_sent() -> None:
        nonlocal sending_done
        sending_done += 1
        if sending_done == len(roles):
            all_sent.set()

    async def session(index: int, role: str) -> None:
        rng = random.Random(seed * 1000 + index)
        sid = f"x-{role}-{seed}"

        async def do(name: str, args: dict[str, Any] | None = None) -> Any:
            figures.tool_calls += 1
            ok, value = await tool(client, name, args)
            if not ok:
                figures.errors.append(f"{role} {name}: {value}")
                return None
            return value

        def take(messages: list[dict[str, Any]]) -> list[str]:
            ids = []
            for m in messages:
                record = (m["sender"], m["type"], m["body"])
                seen = figures.got[role].get(m["id"])
                if seen is not None and seen != record:
                    figures.errors.append(f"{role}: message {m['id']} changed between reads")
                figures.got[role][m["id"]] = record
                ids.append(m["id"])
            return ids

        async def read_and_ack() -> int:
            box = await do("coord_check_messages", {"limit": 1000})
            if box is None:
                return 0
            ids = take(box["messages"])
            if ids:
                acked = await do("coord_ack_messages", {"ids": ids})
                if acked is not None and (acked["acknowledged"] != len(ids) or acked.get("not_pending")):
                    figures.errors.append(f"{role}: ack of {len(ids)} acknowledged {acked['acknowledged']}")
            return int(box["pending"]) - len(ids)

        await starting.acquire()
        released = marked_ready = marked_sent = False
        try:
            async with Client(mcp_params(repo, role, sid, env)) as client:
                starting.release()
                released = marked_ready = True
                mark_ready()
                await all_ready.wait()
                stop = time.monotonic() + seconds
                while time.monotonic() < stop:
                    action = rng.random()
                    if action < 0.45:
                        to = "all" if rng.random() < 0.05 else rng.choice([r for r in roles if r != role])
                        kind = rng.choice(["INFO", "QUESTION", "STATUS_UPDATE", "BLOCKER", "ANSWER"])
                        body = random_body(rng)
                        sent = await do("coord_publish_message", {"to": to, "type": kind, "body": body})
                        if sent is not None:
                            figures.published += 1
                            for target, mid in sent["ids"].items():
                                figures.sent[target][mid] = (role, kind, body)
                                figures.deliveries += 1
                    elif action < 0.85:
                        await read_and_ack()
                    elif action < 0.95:
                        await do("coord_get_notifications")
                    else:
                        table = await do("coord_get_presence")
                        if table is not None:
                            for row in table["roles"]:
                                if row["role"] in roles and row["status"] != "active":
                                    figures.stale_seen.append(f"{row['role']} {row['status']} seen by {role}")
                    await anyio.sleep(rng.uniform(0.05, 0.6))
                marked_sent = True
                mark_sent()
                await all_sent.wait()
                with anyio.move_on_after(120):
                    while set(figures.got[role]) != set(figures.sent[role]):
                        await read_and_ack()
                        await anyio.sleep(0.1)
                await read_and_ack()
                final = await do("coord_check_messages", {"limit": 1000})
                notes = await do("coord_get_notifications")
                figures.leftover[role] = (final["pending"] if final else -1) + (notes["pending"] if notes else -1)
        except Exception as exc:  # a session that dies is a finding: keep going, report it
            figures.errors.append(f"{role}: session failed: {type(exc).__name__}: {exc}")
            if not released:
                starting.release()
            if not marked_ready:
                mark_ready()
            if not marked_sent:
                mark_sent()

    async with anyio.create_task_group() as group:
        for index, role in enumerate(roles):
            group.start_soon(session, index, role)
    figures.received = sum(len(v) for v in figures.got.values())
    return figures


def verdict(figures: Figures) -> list[str]:
    """Everything wrong with a run; empty when every message arrived exactly as sent."""
    problems = list(figures.errors)
    for role, sent in figures.sent.items():
        got = figures.got[role]
        missing = set(sent) - set(got)
        extra = set(got) - set(sent)
        changed = [i for i in set(sent) & set(got) if sent[i] != got[i]]
        if missing:
            problems.append(f"{role}: {len(missing)} message(s) never delivered")
        if extra:
            problems.append(f"{role}: {len(extra)} message(s) nobody sent")
        if changed:
            problems.append(f"{role}: {len(changed)} message(s) altered")
    problems += [f"{role}: {n} left pending" for role, n in figures.leftover.items() if n != 0]
    problems += figures.stale_seen
    return problems
