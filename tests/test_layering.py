"""Imports go one way: spaces <- bundles <- fields <- nn <- (testing, examples, datasets, plot, io).

Every module under fiberconv/{spaces,bundles,fields,nn} is parsed (ast), imports inside functions
included, and fiberconv/validation.py imports nothing from fiberconv. The one allowed exception:
fiberconv/nn/__init__.py's module ``__getattr__``, the deprecated aliases of fiberconv.testing names.
"""
from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "fiberconv"
APPS = {"testing", "examples", "datasets", "plot", "io"}
FORBIDDEN = {
    "spaces": {"bundles", "fields", "nn"} | APPS,
    "bundles": {"fields", "nn"} | APPS,
    "fields": {"nn"} | APPS,
    "nn": APPS,
}
# (file, enclosing function, imported subpackage) allowed despite FORBIDDEN
ALLOWED = {("fiberconv/nn/__init__.py", "__getattr__", "testing")}


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def fiberconv_imports(path: pathlib.Path):
    """``(absolute module, enclosing function or None, line)`` for every import of a fiberconv module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []

    def visit(node, func):
        for child in ast.iter_child_nodes(node):
            f = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else func
            if isinstance(child, ast.Import):
                out.extend((a.name, func, child.lineno) for a in child.names if a.name.split(".")[0] == "fiberconv")
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    mod = ".".join(base + ([child.module] if child.module else []))
                else:
                    mod = child.module or ""
                if mod.split(".")[0] == "fiberconv":
                    # `from fiberconv import testing` / `from .. import testing` import the names as modules
                    targets = [mod] if child.module else [f"{mod}.{a.name}" for a in child.names]
                    if child.module and mod == "fiberconv":
                        targets = [f"fiberconv.{a.name}" for a in child.names]
                    out.extend((t, func, child.lineno) for t in targets)
            visit(child, f)

    visit(tree, None)
    return out


def subpackage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


CASES = [(layer, p) for layer in FORBIDDEN for p in sorted((PACKAGE / layer).rglob("*.py"))]


@pytest.mark.parametrize("layer, path", CASES, ids=[p.relative_to(ROOT).as_posix() for _, p in CASES])
def test_imports_go_one_way(layer, path):
    rel = path.relative_to(ROOT).as_posix()
    bad = [
        f"{rel}:{line} imports {mod}" + (f" (in {func})" if func else "")
        for mod, func, line in fiberconv_imports(path)
        if subpackage(mod) in FORBIDDEN[layer] and (rel, func, subpackage(mod)) not in ALLOWED
    ]
    assert not bad, f"fiberconv.{layer} must not import {sorted(FORBIDDEN[layer])}: {bad}"


def test_validation_imports_nothing_from_fiberconv():
    assert fiberconv_imports(PACKAGE / "validation.py") == []


def test_the_parser_sees_relative_lazy_and_absolute_imports():
    lazy = [(subpackage(m), f) for m, f, _ in fiberconv_imports(PACKAGE / "nn" / "__init__.py")]
    assert ("testing", "__getattr__") in lazy  # `from .. import testing` inside a function
    found = {subpackage(m) for m, _, _ in fiberconv_imports(PACKAGE / "nn" / "sphere" / "conv.py")}
    assert {"fields", "spaces"} <= found  # `from ...fields import ...`
    found = {subpackage(m) for m, _, _ in fiberconv_imports(PACKAGE / "examples" / "wind" / "targets.py")}
    assert {"spaces", "validation"} <= found  # `from fiberconv.spaces.healpix import ...`
