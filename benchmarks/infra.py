"""Effects the rows share: timed processes, a real Valkey, generated git repositories, the machine.

Everything started here is registered with a Workspace and killed when it closes, so an
interrupted benchmark leaves no server behind.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.core import interleaved
from coord.embedded import valkey_binary
from coord.server_process import ValkeyServer

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = Path(sys.executable).parent
HUMAN_EMAIL = "bench@example.com"

# Variables that would change who coord thinks it is or where it stores things.
_SCRUB = ("CLAUDE_INSTANCE_ID", "CLAUDE_CODE_SESSION_ID", "CLAUDE_PROJECT_DIR", "CLAUDECODE", "COORD_")


def module_present(name: str) -> bool:
    """Is a coord module there yet? (other helpers build them while the benchmark is written)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def script(name: str) -> str:
    """A console script next to this interpreter (not a pyenv shim, which costs a bash start and
    a `pyenv exec` per call and would be measured as coord's own time)."""
    local = BIN_DIR / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} is not installed (pip install -e .)")
    return found


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every measured process: ours minus coord/Claude identity, plus extra,
    with this interpreter's bin directory first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    env["PATH"] = f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    # A user's Python caches bytecode; without the cache every hook start recompiles coord
    # (this machine exports PYTHONDONTWRITEBYTECODE=1). Warm-up runs write the cache.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if extra:
        env.update(extra)
    return env


def run(argv: Sequence[str], cwd: Path | None = None, env: Mapping[str, str] | None = None,
        stdin: bytes | None = None, timeout: float = 120.0, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run a command with an argument list (never a shell); a failure says which and why."""
    proc = subprocess.run(list(argv), cwd=cwd, env=dict(env) if env is not None else None, input=stdin,
                          capture_output=True, timeout=timeout)
    if check and proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        tail = err[-1] if err else proc.stdout.decode(errors="replace").strip()[-200:]
        raise RuntimeError(f"{' '.join(map(str, argv[:4]))} exited {proc.returncode}: {tail}")
    return proc


def time_process(argv: Sequence[str], cwd: Path | None = None, env: Mapping[str, str] | None = None,
                 stdin: bytes | None = None, timeout: float = 60.0, check: bool = True) -> float:
    """Wall time in seconds of one whole process, from spawn to exit (what a hook costs a prompt)."""
    start = time.perf_counter()
    proc = subprocess.run(list(argv), cwd=cwd, env=dict(env) if env is not None else None, input=stdin,
                          capture_output=True, timeout=timeout)
    elapsed = time.perf_counter() - start
    if check and proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise RuntimeError(f"{' '.join(map(str, argv[:3]))} exited {proc.returncode}: {err[-1] if err else ''}")
    return elapsed


def compare(runs: Mapping[str, Callable[[], float]], rounds: int, warmup: int = 2,
            before_each: Mapping[str, Callable[[], None]] | None = None) -> dict[str, list[float]]:
    """Time several callables (each returns seconds) interleaved round by round, so machine drift
    hits all of them alike. before_each[name] runs untimed before each sample of that name."""
    names = list(runs)
    samples: dict[str, list[float]] = {n: [] for n in names}
    hooks = before_each or {}
    for i, name in enumerate(interleaved(names, warmup + rounds)):
        if name in hooks:
            hooks[name]()
        value = runs[name]()
        if i >= warmup * len(names):
            samples[name].append(value)
    return samples


Valkey = ValkeyServer  # benchmarks' name for coord.server_process's launcher


def valkey_version() -> str:
    try:
        out = run([str(valkey_binary()), "--version"], timeout=10).stdout.decode()
    except (OSError, RuntimeError):
        return "unknown"
    for part in out.split():
        if part.startswith("v="):
            return part[2:]
    return out.strip()


def git(repo: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    return run(["git", *args], cwd=repo, env=env).stdout.decode().strip()


def make_repo(path: Path, files: int = 0, branch: str = "main") -> Path:
    """A repository with one commit holding `files` generated files (plus README.md), checked out.

    Files are written with `git fast-import` and checked out by `git reset --hard`, which is
    what a user's large repository looks like to `git worktree add`, in seconds instead of a
    minute of `git add`."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    git(path, "config", "user.name", "Bench Human")
    git(path, "config", "user.email", HUMAN_EMAIL)
    git(path, "config", "commit.gpgsign", "false")
    chunks: list[bytes] = []
    entries: list[tuple[str, int]] = [("README.md", 1)]
    readme = b"benchmark repository\n"
    chunks.append(b"blob\nmark :1\ndata %d\n%s\n" % (len(readme), readme))
    for i in range(files):
        mark = i + 2
        body = (f"# generated file {i}\n" + f"VALUE_{i} = {i * 7919 % 100003}\n" * (1 + i % 7)).encode()
        chunks.append(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(body), body))
        entries.append((f"src/d{i // 200:03d}/f{i:05d}.py", mark))
    message = f"generated: {files} files".encode()
    chunks.append(f"commit refs/heads/{branch}\n".encode())
    chunks.append(f"committer Bench Human <{HUMAN_EMAIL}> 1700000000 +0000\n".encode())
    chunks.append(b"data %d\n%s\n" % (len(message), message))
    for name, mark in entries:
        chunks.append(f"M 100644 :{mark} {name}\n".encode())
    chunks.append(b"\n")
    run(["git", "fast-import", "--quiet"], cwd=path, stdin=b"".join(chunks), timeout=600)
    git(path, "reset", "-q", "--hard", branch)
    return path


def git_version() -> str:
    try:
        return run(["git", "--version"]).stdout.decode().strip().removeprefix("git version ")
    except (OSError, RuntimeError):
        return "unknown"


def coord_commit() -> str:
    try:
        head = git(REPO_ROOT, "rev-parse", "--short=12", "HEAD")
        dirty = git(REPO_ROOT, "status", "--porcelain", "--untracked-files=no", "--", "coord", "templates")
    except (OSError, RuntimeError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, object]:
    """What the figures depend on, written beside them in the JSON."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": affinity,
        "cpu": cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "git": git_version(),
        "valkey": valkey_version(),
        "coord_commit": coord_commit(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "pressure": pressure(),
    }


def pressure() -> dict[str, str]:
    """Linux PSI (share of time tasks waited for CPU / IO): how busy the machine was with other work."""
    out: dict[str, str] = {}
    for kind in ("cpu", "io"):
        try:
            out[kind] = Path(f"/proc/pressure/{kind}").read_text().splitlines()[0]
        except (OSError, IndexError):
            continue
    return out


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (VmRSS in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def children_of(pid: int) -> list[int]:
    """Direct children of a process (the stdio MCP client does not expose its server's pid)."""
    kids: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields_after = stat.rsplit(")", 1)[1].split()
        if int(fields_after[1]) == pid:
            kids.append(int(entry.name))
    return kids


def cmdline(pid: int) -> list[str]:
    try:
        return [p for p in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0") if p]
    except OSError:
        return []


@dataclass
class Workspace:
    """A temp folder plus every process and server started for one group of rows."""

    root: Path
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def valkey(self, name: str = "valkey", durable: bool = True) -> Valkey:
        server = ValkeyServer(self.root / name, durable=durable).start()
        self.stack.callback(server.stop)
        return server

    def on_close(self, fn: Callable[[], object]) -> None:
        self.stack.callback(fn)

    def kill_pid_later(self, pid: int) -> None:
        def kill() -> None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

        self.stack.callback(kill)


def remove_tree(path: Path) -> None:
    """rm -rf (a little faster than shutil.rmtree on the many small files of worktrees)."""
    if not path.exists():
        return
    if shutil.which("rm"):
        subprocess.run(["rm", "-rf", "--", str(path)], check=False, timeout=900)
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def workspace(prefix: str) -> Iterator[Workspace]:
    root = Path(tempfile.mkdtemp(prefix=f"coord-bench-{prefix}-"))
    ws = Workspace(root)
    try:
        with ws.stack:
            yield ws
    finally:
        remove_tree(root)
