"""The comparison of the wind example (``python -m fiberconv.examples.wind.compare``) on tiny settings: every
architecture and task gets a row, the equivariant rows are unchanged on the globe turned 180° about x (a grid
symmetry), the Conv2d baselines' are not, DISCO is skipped (and said so) without torch-harmonics, bad options
fail with the flag's name."""
from __future__ import annotations

import json

import pytest
import torch

from fiberconv.examples.wind.baselines import have_torch_harmonics
from fiberconv.examples.wind.compare import main


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    threads = torch.get_num_threads()
    try:
        results = main(["--tiny", "--budget", "0.5", "--out", str(out), "--quiet"])
    finally:
        torch.set_num_threads(threads)
    return out, results


def test_tiny_comparison_writes_every_row(tiny):
    out, results = tiny
    text = (out / "comparison.md").read_text()
    saved = json.loads((out / "comparison.json").read_text())
    archs = ["equivariant", "(u,v) as scalars", "HEALPix faces Conv2d"] + (["DISCO lat-lon"] if have_torch_harmonics() else [])
    for key in ("downscaling", "vortdiv"):
        rows = saved["tasks"][key]["rows"]
        assert [r for r in rows if "params" in rows[r]] == [f"{a} 1k" for a in archs]
        for a in archs:
            row = rows[f"{a} 1k"]
            assert row["steps"] >= 1 and row["samples_per_s"] > 0 and 500 < row["params"] < 2000
            assert f"| {a} 1k | {row['params']} |" in text
    if not have_torch_harmonics():
        assert saved["skipped"] == ["DISCO lat-lon"] and "Skipped (torch-harmonics not importable)" in text
    # the reference row: the upsampled input itself
    assert "upsampled input" in saved["tasks"]["downscaling"]["rows"]


def test_equivariant_rows_are_exact_under_a_grid_symmetry(tiny):
    _, results = tiny
    for key in ("downscaling", "vortdiv"):
        rows = results["tasks"][key]["rows"]
        eq = rows["equivariant 1k"]["cases"]
        for col, value in eq["test"].items():
            assert eq["180° about x"][col] == pytest.approx(value, rel=1e-4)
        faces = rows["HEALPix faces Conv2d 1k"]["cases"]
        assert any(abs(faces["180° about x"][c] - v) > 1e-3 * abs(v) for c, v in faces["test"].items())


@pytest.mark.parametrize("argv,message", [
    (["--sizes", "5k"], "--sizes: expected a comma-separated subset of 1k, 10k, 100k"),
    (["--archs", "sfno"], "--archs: expected"),
    (["--budget", "0"], "--budget"),
    (["--nside", "4"], "--nside must be a power of two >= 8"),
])
def test_bad_options_name_the_flag(argv, message, tmp_path):
    with pytest.raises(SystemExit, match=message):
        main(argv + ["--out", str(tmp_path), "--quiet"])
