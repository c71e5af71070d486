"""The QM9 example at tiny settings on the committed subset (issue 17): it trains the three models, reports MAE in
meV, and the SE(3) model's predictions on rotated molecules equal the unrotated ones; bad options are named."""
from __future__ import annotations

import json

import pytest

from fiberconv.examples.qm9.run import main


def test_tiny_run_on_the_subset(tmp_path, capsys):
    results = main(["--source", "subset", "--n-train", "40", "--epochs", "1", "--n-test", "20", "--channels", "8",
                    "--layers", "1", "--nbhd", "8", "--batch", "20", "--out", str(tmp_path)])
    assert [r["group"] for r in results] == ["T3", "SE3", "Trivial"]
    for r in results:
        assert r["n_train"] == 40 and set(r["mae_mev"]) == {"homo", "lumo", "gap"}
        # untrained-ish models: errors of the order of the targets' spread (hundreds of meV), finite
        assert all(10 < v < 1e4 for v in r["mae_mev"].values())
    se3 = results[1]
    assert se3["rotation_max_change_mev_f64_frame_ok"] < 1e-6
    for t in ("homo", "lumo", "gap"):
        assert se3["mae_rotated_mev"][t] == pytest.approx(se3["mae_mev"][t], abs=0.01)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["results"][1]["group"] == "SE3"
    out = capsys.readouterr().out
    assert "| SE3 | 40 |" in out and "paper (LieConv T(3)" in out


@pytest.mark.parametrize("argv, message", [(["--groups", "SO3"], "--groups SO3: expected one of T3, SE3, Trivial"),
                                           (["--n-train", "0"], "--n-train must be a positive int"),
                                           (["--source", "subset", "--n-train", "1000"], "--n-train 1000: the subset"),
                                           (["--targets", "U0"], "--targets U0: expected one of"),
                                           (["--lr", "nan"], "--lr")])
def test_bad_options_are_named(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2 and message in capsys.readouterr().err
