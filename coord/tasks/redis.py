"""`redis.*` tasks: the repository's embedded server (or the configured COORD_REDIS_URL).

The embedded server starts by itself on first need; these tasks are for looking at it,
starting it ahead of time and stopping it (its data stays under the git common directory).
"""

from __future__ import annotations

import json as _json
from typing import Any

from invoke.collection import Collection
from invoke.tasks import Task, task

from coord.tasks.boundary import guarded, workspace


@task
@guarded
def up(c: object) -> None:
    """Start the repository's embedded Redis (no-op when running or when COORD_REDIS_URL is set)."""
    from coord import embedded, embedded_start
    from coord.resp_url import redact
    from coord.store import open_store

    paths, config = workspace()
    if config.redis_url:
        store = open_store(paths, config)
        took = store.ping()
        print(f"using {redact(config.redis_url)} (COORD_REDIS_URL / redis_url): answers in {took * 1000:.1f} ms")
        return
    before = embedded.owned_state(paths)
    state = embedded_start.ensure_running(paths)
    verb = "running" if before is not None and before.pid == state.pid else "started"
    print(f"{verb}: {redact(state.url)} (pid {state.pid}, data {state.data_dir})")
    if embedded.data_missing(state):
        print(f"warning: {embedded.DATA_MISSING}")


@task(help={"json": "print a JSON object"})
@guarded
def status(c: object, json: bool = False) -> None:
    """Where the coordination Redis is, whether it answers, its version and key count."""
    from coord import embedded
    from coord.errors import StoreUnavailableError
    from coord.resp_url import redact
    from coord.store import open_store, store_namespace

    paths, config = workspace()
    problem: StoreUnavailableError | None = None
    if config.redis_url:
        info: dict[str, object] = {"running": False, "url": redact(config.redis_url), "embedded": False}
        try:
            store = open_store(paths, config)
            info["ping_ms"] = round(store.ping() * 1000, 2)
            info["running"] = True
        except StoreUnavailableError as exc:
            info["error"] = exc.message
            problem = exc
    else:
        info = embedded.status(paths).to_dict()
    info["namespace"] = store_namespace(paths, config)
    if json:
        print(_json.dumps(info, indent=2))
    else:
        if info.get("embedded"):
            if not info["running"]:
                print("embedded: not running (it starts on first need, or now with `coord redis.up`)")
            if info.get("foreign_pid"):
                print(f"note: the state file names pid {info['foreign_pid']}, which is not coord's server (left alone)")
        elif problem is None:
            print("COORD_REDIS_URL: answers")
        for key in ("url", "pid", "version", "keys", "ping_ms", "data_dir", "namespace"):
            if info.get(key) is not None:
                print(f"{key}: {info[key]}")
        if info.get("data_missing"):
            print(f"warning: {embedded.DATA_MISSING}")
    if problem is not None:
        # The configured server is the only one coord would use: unreachable is a failure (exit 5),
        # and redis.up cannot help, so the fix names the setting, not redis.up.
        raise StoreUnavailableError(
            problem.message, "check that the server runs and that COORD_REDIS_URL / redis_url is right"
        )


@task
@guarded
def down(c: object) -> None:
    """Stop the repository's embedded Redis; its data stays on disk for the next start."""
    from coord import embedded

    paths, config = workspace()
    result = embedded.stop(paths)
    if result.stopped and result.data_kept:
        print(f"stopped the embedded Redis (data kept in {paths.state_dir / embedded.DATA_DIR})")
    elif result.stopped:
        print("stopped the embedded Redis; its data directory had been deleted while it ran, "
              "so what it received since then is lost (not kept)")
    else:
        print("the embedded Redis was not running")
    if result.foreign_pid:
        print(f"note: the state file named pid {result.foreign_pid}, which is not coord's server: left alone")
    if config.redis_url:
        print("note: COORD_REDIS_URL / redis_url is set, so coord uses that server, which this does not stop")


collection = Collection("redis", up, status, down)
top_level: list[Task[Any]] = []
