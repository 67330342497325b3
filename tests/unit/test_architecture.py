"""The layering, checked from the source: no import cycle between coord's modules (function-level
imports included), and the faces never lean on each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[2] / "coord"

# Each face talks to one outside party: the command line, the MCP client, Claude Code's hooks, the
# generated files, the health report, the terminal cockpit. What two faces share moves down a floor.
FACES = {
    "coord.tasks": "tasks",
    "coord.mcp_server": "mcp_server",
    "coord.hooks": "hooks",
    "coord.render": "render",
    "coord.doctor": "doctor",
    "coord.cockpit": "cockpit",
}
# The command line is how a user starts the other faces (`coord init` renders, `coord doctor`
# reports, `coord mcp` serves, `coord team.*` opens the cockpit): tasks/ may call into them, and
# that is the only direction a face may import another. Nothing else imports tasks/.
STARTED_BY_TASKS = {"render", "doctor", "mcp_server", "cockpit"}
# Above every face: cli builds the program from tasks/; reference documents the tasks and the tools
# (README's tables, `inv docs`). No coord module imports either.
ENTRY_POINTS = {"coord.cli", "coord.reference"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, here: str, is_package: bool) -> set[str]:
    """Every coord module imported anywhere in tree (functions included), skipping TYPE_CHECKING
    blocks (never run). `from coord import git` names the module coord.git; importing a submodule
    also runs its parent packages' __init__."""
    found: set[str] = set()

    def add(name: str) -> None:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            candidate = ".".join(parts[:i])
            if candidate in MODULES:
                found.add(candidate)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".") if is_package else here.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            add(source)
            for alias in node.names:
                if f"{source}.{alias.name}" in MODULES:
                    add(f"{source}.{alias.name}")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    # A module's own ancestors are already running when it runs: not an edge.
    ancestors = {".".join(here.split(".")[:i]) for i in range(1, here.count(".") + 1)}
    return found - {here} - ancestors


GRAPH = {
    name: _imports(ast.parse(path.read_text(encoding="utf-8")), name, path.name == "__init__.py")
    for name, path in MODULES.items()
}


def face_of(module: str) -> str | None:
    for prefix, face in FACES.items():
        if module == prefix or module.startswith(prefix + "."):
            return face
    return None


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path [a, b, ..., a], or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state:
                found = walk(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = walk(start)
            if found:
                return found
    return None


def test_the_graph_sees_the_package() -> None:
    assert {"coord.hooks", "coord.render", "coord.tasks.agent", "coord.worktree.rules"} <= set(GRAPH)
    assert "coord.worktree.rules" in GRAPH["coord.worktree"]
    assert "coord.git" in GRAPH["coord.worktree.creation"]  # `from coord import git`
    assert "coord.store" in GRAPH["coord.tasks.msg"]  # a function-level import counts


def test_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_between_coord_modules() -> None:
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_faces_never_import_each_other() -> None:
    wrong = []
    for module, imported in sorted(GRAPH.items()):
        mine = face_of(module)
        for target in sorted(imported):
            theirs = face_of(target)
            if theirs is None or theirs == mine:
                continue
            if theirs == "tasks" and module not in ENTRY_POINTS:
                wrong.append(f"{module} imports the command line {target}")
            elif mine is not None and theirs != "tasks" and not (mine == "tasks" and theirs in STARTED_BY_TASKS):
                wrong.append(f"face {module} imports face {target}")
    assert wrong == []


def test_lower_floors_never_import_a_face() -> None:
    wrong = [f"{module} imports {target}" for module, imported in sorted(GRAPH.items())
             if face_of(module) is None and module not in ENTRY_POINTS
             for target in sorted(imported) if face_of(target) is not None]
    assert wrong == []


def test_nothing_in_coord_imports_an_entry_point() -> None:
    assert [m for m, imported in sorted(GRAPH.items()) if imported & ENTRY_POINTS] == []


def git_started_outside_the_runner(tree: ast.AST) -> list[int]:
    """Lines where a process is started with "git" as the program, outside coord.git: a literal
    argument list whose first item is "git", passed to any call (subprocess.run, Popen, ...)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.List | ast.Tuple):
            first = node.args[0].elts[:1]
            if first and isinstance(first[0], ast.Constant) and first[0].value == "git":
                lines.append(node.lineno)
    return lines


def test_the_checker_sees_a_git_process() -> None:
    assert git_started_outside_the_runner(ast.parse("subprocess.run(['git', 'status'], cwd=x)")) == [1]
    assert git_started_outside_the_runner(ast.parse("git.run(repo, 'status')")) == []


def test_every_git_process_starts_in_the_one_runner() -> None:
    wrong = {name: lines for name, path in sorted(MODULES.items()) if name != "coord.git"
             if (lines := git_started_outside_the_runner(ast.parse(path.read_text(encoding="utf-8"))))}
    assert wrong == {}
