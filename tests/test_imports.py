"""The package's shape, read from its source: every import of every module (those inside functions
included, relative ones resolved) forms a graph with no cycle; no module is named after a module
of the standard library; no line of src/ or tests/ is longer than 120 characters; the two functions a
reader opens first, the delta recursion and the training loop, each fit on one screen."""

from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "chainrule"
MAX_LINE = 120


def module_name(path: Path) -> str:
    """chainrule.app.server for src/chainrule/app/server.py; chainrule.app for its __init__.py."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that module ``name`` (at ``path``) imports, anywhere in its body.
    ``from a import b`` imports a.b when that is a module, else a (whose __init__ defines b);
    ``importlib.import_module`` with a computed name is not seen (the CLI's verb table)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source)
    return {module for module in found if module in known and module != name}


def import_graph() -> dict[str, set[str]]:
    every = modules()
    return {name: imported(name, path, set(every)) for name, path in every.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
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
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_sees_imports_inside_functions_and_relative_ones():
    graph = import_graph()
    assert "chainrule.app.server" in graph["chainrule.app"]  # from .server import create_app
    assert "chainrule.app" in graph["chainrule.cli.draw"]  # from ..app import create_app, inside main()
    assert "chainrule.datasets" in graph["chainrule.cli.eval"]  # inside a function, two levels up


def test_cycles_are_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "modules importing each other, directly or round a loop: " + "; ".join(
        " <-> ".join(component) for component in found)


# The house plan in STYLE.md names the core's save/load module ``io``; it is only ever imported as
# ``chainrule.io`` or relatively, never on its own, so it hides nothing. Any other clash fails.
STYLE_NAMES = {"chainrule.io"}


def test_no_module_is_named_after_a_standard_library_module():
    clashes = sorted(name for name in modules()
                     if name.rpartition(".")[2] in sys.stdlib_module_names and name not in STYLE_NAMES)
    assert not clashes, f"named after a standard-library module: {clashes}"


def test_no_line_is_longer_than_120_characters():
    long = [f"{path.relative_to(ROOT)}:{number} ({len(line)})"
            for path in sorted([*(ROOT / "src").rglob("*.py"), *(ROOT / "tests").rglob("*.py")])
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if len(line) > MAX_LINE]
    assert not long, f"{len(long)} lines over {MAX_LINE} characters:\n" + "\n".join(long)


def test_the_delta_recursion_and_the_training_loop_each_fit_on_one_screen():
    from chainrule.network import Network
    from chainrule.training import fit

    lengths = {f.__qualname__: len(inspect.getsourcelines(f)[0]) for f in (Network.backward_pass, fit)}
    assert lengths["Network.backward_pass"] <= 30 and lengths["fit"] <= 60, lengths
