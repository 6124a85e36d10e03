"""The layout's rules, read from the code: nothing in `bot/` imports `adapters/` (the core knows
no channel), no cycle in the module import graph (A -> B -> A), counting imports inside
functions the same as those at the top of a module, and nothing imports the command line
(adapters/cli/, the composition root).

Every module under bot/ and adapters/ is parsed with `ast` (nothing is imported). An import
names the project module it reaches: `from pkg import name` reaches pkg.name when that is a
module, else pkg; importing a.b.c also runs the packages a and a.b, so those are reached too,
except the importer's own enclosing packages (already running when it runs), which is why a
package `__init__` importing its own submodules, and a submodule importing a sibling, is fine.
"""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROOTS = ("bot", "adapters")


def project_modules(repo: Path = REPO) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under the roots (a package is its __init__)."""
    modules = {}
    for root in ROOTS:
        for path in sorted((repo / root).rglob("*.py")):
            parts = list(path.relative_to(repo).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _reached(target: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of a dotted name that is a project module (`import bot.x.y` where
    y is a function is not possible, but `bot.x` + attribute lookups are)."""
    parts = target.split(".")
    for i in range(len(parts), 0, -1):
        candidate = ".".join(parts[:i])
        if candidate in modules:
            return candidate
    return None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> dict[str, int]:
    """Project modules `name` imports (anywhere in the file) -> the first line that does."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: dict[str, int] = {}

    def reach(target: str, line: int) -> None:
        module = _reached(target, modules)
        if module is None:
            return
        own = set(_ancestors(name))
        for ancestor in _ancestors(module) + [module]:
            if ancestor in modules and ancestor not in own and ancestor != name:
                found.setdefault(ancestor, line)

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                reach(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".") if package else []
                if node.level > 1:
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                submodule = f"{base}.{alias.name}" if base else alias.name
                reach(submodule if submodule in modules else base, node.lineno)
    return found


def import_graph(repo: Path = REPO) -> dict[str, dict[str, int]]:
    modules = project_modules(repo)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The groups of modules that all reach each other (each holds at least one cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def strongconnect(v: str) -> None:  # Tarjan's algorithm; recursion is fine for ~100 modules
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return components


def find_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle (a path A -> ... -> A) through each strongly connected group of modules."""
    cycles = []
    for component in strongly_connected(graph):
        members = set(component)
        start = component[0]
        # The shortest way back to the start inside the component (breadth first).
        previous: dict[str, str | None] = {start: None}
        queue = [start]
        path: list[str] = []
        while queue and not path:
            v = queue.pop(0)
            for w in sorted(graph[v]):
                if w == start:
                    path = [v]
                    while previous[path[-1]] is not None:
                        path.append(previous[path[-1]])
                    path = path[::-1] + [start]
                    break
                if w in members and w not in previous:
                    previous[w] = v
                    queue.append(w)
        cycles.append(path)
    return cycles


def describe(cycle: list[str], graph: dict[str, dict[str, int]], modules: dict[str, Path], repo: Path) -> str:
    steps = [f"{a} -> {b} ({modules[a].relative_to(repo)}:{graph[a][b]})" for a, b in zip(cycle, cycle[1:])]
    return "\n    ".join(steps)


def core_imports_of_adapters(graph: dict[str, dict[str, int]], modules: dict[str, Path], repo: Path) -> list[str]:
    """`file:line: module imports adapters.x` for each import from the core into the adapters."""
    found = []
    for a, targets in sorted(graph.items()):
        if a != "bot" and not a.startswith("bot."):
            continue
        for b, line in sorted(targets.items(), key=lambda t: (t[1], t[0])):
            named = not any(other.startswith(b + ".") for other in targets)  # not just a parent package
            if named and (b == "adapters" or b.startswith("adapters.")):
                found.append(f"{modules[a].relative_to(repo)}:{line}: {a} imports {b}")
    return found


def test_the_graph_sees_the_code():
    graph = import_graph()
    assert len(graph) > 40
    assert "bot.decide.answer" in graph["adapters.runtime"]
    assert "bot.knowledge.load" in graph["bot.decide.answer"]


def test_nothing_in_bot_imports_adapters():
    modules = project_modules()
    problems = core_imports_of_adapters(import_graph(), modules, REPO)
    assert not problems, "the core (bot/) must not import the adapters:\n  " + "\n  ".join(problems)


def test_no_import_cycle():
    modules = project_modules()
    graph = import_graph()
    cycles = find_cycles(graph)
    groups = strongly_connected(graph)
    assert not cycles, "import cycle(s):\n  " + "\n  ".join(
        f"cycle: {' -> '.join(c)}\n    {describe(c, graph, modules, REPO)}\n    (modules in this loop: {', '.join(g)})"
        for c, g in zip(cycles, groups))


def test_nothing_imports_the_composition_root():
    """adapters/cli/ wires everything together, so nothing may depend on it."""
    root = "adapters.cli"
    modules = project_modules()
    graph = import_graph()
    importers = [f"{modules[a].relative_to(REPO)}:{line}: {a} imports {b}"
                 for a, targets in sorted(graph.items()) if a != root and not a.startswith(root + ".")
                 for b, line in sorted(targets.items()) if b == root or b.startswith(root + ".")]
    assert not importers, "only the command line may import itself:\n  " + "\n  ".join(importers)


def test_cycle_finder_finds_a_function_level_loop(tmp_path):
    (tmp_path / "bot").mkdir()
    (tmp_path / "adapters").mkdir()
    (tmp_path / "bot" / "__init__.py").write_text("")
    (tmp_path / "adapters" / "__init__.py").write_text("")
    (tmp_path / "bot" / "a.py").write_text("from . import b\n")
    (tmp_path / "bot" / "b.py").write_text("def f():\n    from .a import x\n    import adapters.c\n")
    (tmp_path / "adapters" / "c.py").write_text("import json\n")
    modules = project_modules(tmp_path)
    graph = import_graph(tmp_path)
    assert find_cycles(graph) == [["bot.a", "bot.b", "bot.a"]]
    assert core_imports_of_adapters(graph, modules, tmp_path) == ["bot/b.py:3: bot.b imports adapters.c"]
