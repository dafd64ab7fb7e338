"""Every notebook in notebooks/ runs top to bottom in a fresh kernel. Each one
asserts its own checks (chainrule against a reference written out from its course text) and ends by
printing every check's largest difference; a failed check fails the run."""

from __future__ import annotations

from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_is_a_notebook_per_course_text(course_texts):
    texts = sorted(course_texts.glob("0*.txt"))
    cited = {text.name for text in texts for notebook in NOTEBOOKS if text.name in notebook.read_text()}
    assert cited == {text.name for text in texts}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_its_checks_hold(path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert not any(cell.outputs or cell.execution_count for cell in code), "commit notebooks without outputs"
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    if "check(" in path.read_text():
        summary = "".join(o.get("text", "") for o in notebook.cells[-1].get("outputs", []))
        assert summary.count("\n") >= 2, summary  # the table of checks, one line each
