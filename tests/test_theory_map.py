"""docs/theory.md stays true: every function it names imports from fiberconv, every file it names exists,
every test it cites is defined, and each table row names the file of every function in it."""
from __future__ import annotations

import ast
import importlib
import inspect
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
THEORY = ROOT / "docs" / "theory.md"
TEXT = THEORY.read_text(encoding="utf-8")
SPANS = re.findall(r"`([^`\n]+)`", TEXT)

# `nn.SphereConv`, `fields.lift`, `bundles.PrincipalBundle.cocycle`: names relative to the fiberconv package
DOTTED = re.compile(r"(?:spaces|bundles|fields|nn|testing)(?:\.\w+)+")
FILE = re.compile(r"(?:fiberconv|tests|docs|bench)/[\w/.]+\.(?:py|md)")
TEST = re.compile(r"(tests/[\w/]+\.py)::(\w+)")


def resolve(dotted: str):
    """``fiberconv.<dotted>``: attributes, importing submodules where an attribute is missing."""
    parts = dotted.split(".")
    obj = importlib.import_module(f"fiberconv.{parts[0]}")
    for i, part in enumerate(parts[1:], start=1):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            if not inspect.ismodule(obj):
                raise
            obj = importlib.import_module(f"fiberconv.{'.'.join(parts[: i + 1])}")
    return obj


def defining_file(obj) -> str:
    """The repository-relative file that defines ``obj`` (a method: its function)."""
    obj = inspect.unwrap(getattr(obj, "fget", obj))
    return pathlib.Path(inspect.getsourcefile(obj)).resolve().relative_to(ROOT).as_posix()


def table_rows():
    """``(header, cells)`` for every row of every table (split on unescaped ``|``)."""
    header = None
    for line in TEXT.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif not set(line) <= set("|-: "):
            yield header, cells


DOTTED_NAMES = sorted({s for s in SPANS if DOTTED.fullmatch(s)})
FILES = sorted({s for s in SPANS if FILE.fullmatch(s)})
TESTS = sorted({(m[1], m[2]) for s in SPANS if (m := TEST.fullmatch(s))})


def test_the_map_is_parsed():
    assert len(DOTTED_NAMES) > 50 and len(FILES) > 15 and len(TESTS) > 40
    assert "nn.sphere.quadrature.MomentQuadrature" in DOTTED_NAMES and "testing.assert_equivariant" in DOTTED_NAMES


@pytest.mark.parametrize("name", DOTTED_NAMES)
def test_named_function_imports(name):
    resolve(name)


@pytest.mark.parametrize("path", FILES)
def test_named_file_exists(path):
    assert (ROOT / path).is_file(), f"docs/theory.md names {path}, which does not exist"


@pytest.mark.parametrize("path, name", TESTS, ids=[f"{p}::{n}" for p, n in TESTS])
def test_cited_test_is_defined(path, name):
    file = ROOT / path
    assert file.is_file(), f"docs/theory.md cites {path}::{name}: no such file"
    tree = ast.parse(file.read_text(encoding="utf-8"))
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assert name in defined, f"docs/theory.md cites {path}::{name}, which {path} does not define"


def test_tests_are_cited_by_path():
    """A bare ``test_x`` (or ``file.py::test_x``) could silently go stale when tests move: cite ``tests/<path>.py::test_x``."""
    bare = [s for s in SPANS if re.fullmatch(r"(?:[\w/]+\.py::)?test_\w+\*?", s) and not TEST.fullmatch(s)]
    assert not bare, f"cite tests as tests/<path>.py::<name>: {bare}"


def test_every_row_names_the_files_of_its_functions():
    checked = 0
    for header, cells in table_rows():
        if "function" not in header:
            continue
        function_cell = cells[header.index("function")]
        spans = re.findall(r"`([^`\n]+)`", function_cell)
        names = [s for s in spans if DOTTED.fullmatch(s)]
        files = {s for s in spans if FILE.fullmatch(s)}
        for name in names:
            where = defining_file(resolve(name))
            assert where in files, f"docs/theory.md: the row for `{name}` must name its file `{where}` (names {sorted(files)})"
            checked += 1
        test_cell = cells[header.index("test")]
        assert TEST.search(test_cell), f"docs/theory.md: a row cites no tests/<path>.py::<name>: {cells}"
    assert checked > 50
