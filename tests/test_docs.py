"""Every guide in docs/ and the README's example run: their ```python blocks are executed in order, in
one namespace per file."""
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).parent.parent
DOCS = sorted(p for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")] if "```python" in p.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_guide_runs(path):
    blocks = re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)
    namespace = {"__name__": f"docs_{path.stem}"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{path.name}[block {i}]", "exec"), namespace)


def test_ci_runs_the_readme_test_command():
    """The README says `.ci/run` runs its second command (setup, ruff, pytest): keep the two identical."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert commands[1] == ci
    assert "ruff check ." in ci and ci.endswith("python -m pytest -q")
