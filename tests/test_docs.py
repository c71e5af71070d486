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
