"""What keeps the cockpit current without costing CPU while nothing happens.

Each tick is ONE Redis round trip (the DIGEST script: a SHA1 over everything the view shows,
heartbeat times left out so a heartbeat alone changes nothing) and a few stat() calls on git's
ref and index files. Only when one of them changes, or when ages need re-reading, is the team
gathered again (coord.team.gather); `git status` runs for every worktree only when a tip, HEAD
or index changed, or periodically for edits git cannot signal without running: as often as keeps
those rounds under DIRTY_CPU_SHARE of one core (a round's cost is measured: it grows with the number
of worktrees and the files in each), never more often than every DIRTY_REFRESH_SECONDS nor less
often than every DIRTY_REFRESH_MAX_SECONDS.
The radar (pairwise merges) runs in a background thread when tips change and fills its cache,
which the next gather reads.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from coord.config import Config
from coord.errors import CoordError, StoreUnavailableError
from coord.lua import Script
from coord.repo import RepoPaths
from coord.team.gather import GIT_WORKERS, Snapshot, gather

if TYPE_CHECKING:
    from coord.store import Store

AGE_REFRESH_SECONDS = 10.0  # ages on screen (activity, last status, messages) are re-read this often
DIRTY_REFRESH_SECONDS = 60.0  # edits to tracked files change no git file: git status runs at most this often
DIRTY_REFRESH_MAX_SECONDS = 300.0  # ... and at least this often, however large the worktrees
DIRTY_CPU_SHARE = 0.003  # the periodic git status rounds' share of one core (the idle budget is 1%)


def dirty_interval(round_cpu_seconds: float) -> float:
    """Seconds until the next periodic git status round, from what the last one cost (CPU seconds
    of its git processes): 20 worktrees of 2,000 files cost about 0.3 s here, so every 100 s."""
    wanted = max(0.0, round_cpu_seconds) / DIRTY_CPU_SHARE
    return min(DIRTY_REFRESH_MAX_SECONDS, max(DIRTY_REFRESH_SECONDS, wanted))


def children_cpu_seconds() -> float:
    """CPU time of this process's finished child processes (the git runs), user + system."""
    import resource

    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime

DIGEST = Script(
    "cockpit_digest",
    r"""
-- KEYS: presence, claims, conflicts, then per role: alive, pending, inbox. ARGV: n, now, stale_seconds
local n, now, stale_seconds = tonumber(ARGV[1]), now_of(ARGV[2]), tonumber(ARGV[3])
local parts = {}
local function add(x) parts[#parts + 1] = tostring(x) end
local records = redis.call('HGETALL', KEYS[1])
for i = 1, #records, 2 do
  add(records[i])
  local ok, r = pcall(cjson.decode, records[i + 1])
  if ok and type(r) == 'table' then
    add(r.session_id) add(r.status) add(r.activity or '') add(r.activity_at or '') add(r.host or '')
    add(stale(tonumber(r.last_heartbeat) or 0, now, stale_seconds) and 's' or 'f')
  else
    add(records[i + 1])
  end
end
for _, v in ipairs(redis.call('HGETALL', KEYS[2])) do add(v) end
add(redis.call('HLEN', KEYS[3]))
for i = 1, n do
  add(redis.call('EXISTS', KEYS[3 + i]))
  add(redis.call('HLEN', KEYS[3 + n + i]))
  local last = redis.call('XREVRANGE', KEYS[3 + 2 * n + i], '+', '-', 'COUNT', 1)
  add(last[1] and last[1][1] or '')
end
return redis.sha1hex(table.concat(parts, '\0'))
""",
)


def digest(store: Store) -> str:
    k, roles = store.keys, store.config.roles
    keys = [k.presence, k.claims, k.conflicts, *(k.alive(r) for r in roles), *(k.pending(r) for r in roles),
            *(k.inbox(r) for r in roles)]
    return str(store.run_script(DIGEST, keys, [len(roles), store.now_arg(), store.config.stale_seconds]))


def tips_signature(paths: RepoPaths) -> tuple[tuple[str, int], ...]:
    """mtimes of the files a commit, checkout, reset or `git add` rewrites: packed-refs, the loose
    branch refs, and every checkout's HEAD and index. A few dozen stat() calls, no process; plain
    strings and os.scandir (no Path objects): this runs twice a second for as long as the cockpit
    is open, and with 50 worktrees Path-based walking cost 2.3 ms of CPU per call, scandir 1 ms."""
    common = os.fspath(paths.common_dir)
    out: list[tuple[str, int]] = []

    def add(path: str) -> None:
        try:
            out.append((path, os.stat(path).st_mtime_ns))
        except OSError:  # gone between listing and stat: nothing to record
            return

    for name in ("packed-refs", "HEAD", "index"):
        add(f"{common}/{name}")
    folders = [f"{common}/refs/heads"]
    while folders:
        try:
            with os.scandir(folders.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.path)
                        continue
                    try:
                        out.append((entry.path, entry.stat(follow_symlinks=False).st_mtime_ns))
                    except OSError:
                        continue
        except OSError:
            continue
    try:
        with os.scandir(f"{common}/worktrees") as entries:
            for entry in entries:
                add(f"{entry.path}/HEAD")
                add(f"{entry.path}/index")
    except OSError:
        pass
    return tuple(sorted(out))


StoreOpener = Callable[[], "Store"]


class Feed:
    """Polled by the cockpit; `poll()` returns a new Snapshot when something changed, else None."""

    def __init__(self, paths: RepoPaths, config: Config, opener: StoreOpener | None = None,
                 clock: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.paths, self.config, self.clock, self.monotonic = paths, config, clock, monotonic
        self._opener = opener or self._default_opener
        self._store: Store | None = None
        self._pool = ThreadPoolExecutor(GIT_WORKERS, thread_name_prefix="coord-watch-git")
        self._digest: str | None = None
        self._sig: tuple[tuple[str, int], ...] | None = None
        self._last: Snapshot | None = None
        self._last_full = self._last_git = float("-inf")
        self._git_interval = DIRTY_REFRESH_SECONDS
        self._radar: threading.Thread | None = None
        self._radar_done = threading.Event()
        self.store_error = ""

    def _default_opener(self) -> Store:
        from coord.store import open_store

        return open_store(self.paths, self.config, start_server=False, timeout=2.0)

    def _open(self) -> Store | None:
        if self._store is None:
            try:
                self._store = self._opener()
            except StoreUnavailableError as exc:
                self.store_error = exc.message
        return self._store

    def _drop_store(self, message: str) -> None:
        self.store_error = message
        if self._store is not None:
            self._store.close()
        self._store = None

    def poll(self, force: bool = False) -> Snapshot | None:
        now = self.monotonic()
        store = self._open()
        current: str | None = None
        if store is not None:
            try:
                current = digest(store)
                self.store_error = ""
            except StoreUnavailableError as exc:
                self._drop_store(exc.message)
                store = None
        sig = tips_signature(self.paths)
        tips_moved = sig != self._sig
        radar_news = self._radar_done.is_set()
        due_git = now - self._last_git >= self._git_interval
        changed = (force or radar_news or tips_moved or due_git or current != self._digest
                   or now - self._last_full >= AGE_REFRESH_SECONDS)
        if not changed:
            return None
        self._radar_done.clear()
        full_git = tips_moved or due_git or self._last is None
        dirty_cache = None
        if not full_git and self._last is not None:
            dirty_cache = {r.role: bool(r.dirty) for r in self._last.rows if r.dirty is not None}
        spent = children_cpu_seconds()
        snap = gather(self.paths, self.config, store, clock=self.clock, pool=self._pool, dirty_cache=dirty_cache)
        spent = children_cpu_seconds() - spent
        if store is not None and not snap.stored.reachable:
            self._drop_store(snap.stored.error)
            current = None
        if not snap.stored.reachable and self.store_error:
            snap.stored = type(snap.stored)(False, self.store_error)
        self._digest, self._sig, self._last = current, sig, snap
        self._last_full = now
        if full_git:
            self._last_git = now
            self._git_interval = dirty_interval(spent)
        if tips_moved and current is not None:
            self._start_radar()
        return snap

    def _start_radar(self) -> None:
        if self._radar is not None and self._radar.is_alive():
            return

        def work() -> None:
            from coord import radar

            try:
                store = self._opener()
            except StoreUnavailableError:
                return
            try:
                report = radar.run(self.paths, self.config, store, warn=False)
                if report.computed:
                    self._radar_done.set()
            except CoordError:
                pass
            finally:
                store.close()

        self._radar = threading.Thread(target=work, name="coord-watch-radar", daemon=True)
        self._radar.start()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._store is not None:
            self._store.close()
            self._store = None
