"""The documents name functions and tests (docs/math.md ties every formula to both): each name
still exists, so a rename cannot leave a formula pointing at nothing."""

import ast
import importlib
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]
PACKAGES = ("chainrule", "chainrule.experiments", "chainrule.app")


def defined_tests() -> dict[str, set[str]]:
    """{test file name: the functions and classes defined in it}."""
    return {path.name: {node.name for node in ast.walk(ast.parse(path.read_text()))
                        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
            for path in (ROOT / "tests").glob("test_*.py")}


def named_tests(text: str) -> list[tuple[str, str | None]]:
    """(file, test or None) for every `tests/test_x.py`, `test_x.py::name` and `::name` in ``text``; a
    bare `::name` belongs to the file named last on its line."""
    found = []
    for line in text.splitlines():
        current = None
        for ref in re.findall(r"`([^`\s]+)`", line):
            match = re.fullmatch(r"(?:tests/)?(test_\w+\.py)?(?:::(\w+))?", ref)
            if match and (match.group(1) or match.group(2)):
                current = match.group(1) or current
                found.append((current, match.group(2)))
    return found


def named_code(text: str) -> list[str]:
    """Every `module.name[.attribute]` in ``text`` whose first part is a module of chainrule (or of its
    experiments or app), with or without a leading `chainrule.` and trailing `()`."""
    found = []
    for ref in re.findall(r"`(?:chainrule\.)?([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?:\(\))?`", text):
        if ref.endswith(".py"):  # a file, checked by test_every_named_source_file_exists
            continue
        if any(importlib.util.find_spec(f"{package}.{ref.split('.')[0]}") for package in PACKAGES):
            found.append(ref)
    return found


def resolve(ref: str) -> object:
    """The object `ref` names, the longest importable prefix as the module and the rest as attributes."""
    parts = ref.split(".")
    for package in PACKAGES:
        for cut in range(len(parts), 0, -1):
            name = f"{package}.{'.'.join(parts[:cut])}"
            try:
                spec = importlib.util.find_spec(name)
            except ModuleNotFoundError:
                spec = None
            if spec is None:
                continue
            obj = importlib.import_module(name)
            for attribute in parts[cut:]:
                obj = getattr(obj, attribute)
            return obj
    raise LookupError(ref)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_named_test_exists(document):
    tests = defined_tests()
    references = named_tests((ROOT / document).read_text())
    missing = [f"{file}::{name}" for file, name in references if file not in tests or name and name not in tests[file]]
    assert not missing, f"{document} names tests that do not exist: {missing}"


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_named_function_exists(document):
    missing = []
    for ref in named_code((ROOT / document).read_text()):
        try:
            resolve(ref)
        except (AttributeError, LookupError):
            missing.append(ref)
    assert not missing, f"{document} names functions that do not exist: {missing}"


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_named_source_file_exists(document):
    """A `name.py` is a file of the project: of the package, the benchmarks, the examples or the tests."""
    files = {path.name for path in ROOT.glob("**/*.py") if ".venv" not in path.parts}
    named = re.findall(r"`(?:[\w/]+/)?(\w+\.py)`", (ROOT / document).read_text())
    assert not [name for name in named if name not in files], f"{document} names files that do not exist"


def test_math_md_names_a_function_and_a_test_for_its_formulas():
    """The checker reads what the formulas table holds (dozens of each), so it cannot pass by finding nothing."""
    text = (ROOT / "docs/math.md").read_text()
    assert len(named_code(text)) >= 40 and len(named_tests(text)) >= 40
