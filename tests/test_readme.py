"""README.md's library example runs as printed and does what its comments say."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_library_example_runs_and_learns(capsys):
    text = README.read_text()
    section = text[text.index("## The library in ten lines"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["loss"] > 0
    assert namespace["history"].accuracy[-1] > 0.9
    first = capsys.readouterr().out.splitlines()[0]
    assert float(first) < 1e-6  # the gradcheck line


def test_readme_opens_with_the_two_commands():
    lines = README.read_text().splitlines()
    block = lines[lines.index("```bash") + 1: lines.index("```")]
    commands = [line for line in block if not line.startswith("#")]
    assert len(commands) == 2
    assert commands[0].endswith("chainrule draw") and "pytest" in commands[1]
