"""tqdm progress bars in the examples' training loops, silenced by --quiet (issue 15)."""
from __future__ import annotations

import io

import pytest
import torch

pytest.importorskip("tqdm")

from fiberconv.examples._progress import progress  # noqa: E402
from fiberconv.examples.wind.cli import Log  # noqa: E402
from fiberconv.examples.wind.train import train_model  # noqa: E402


def test_progress_bar_counts_steps_and_quiet_writes_nothing():
    out = io.StringIO()
    with progress(5, "demo", stream=out) as bar:
        for _ in range(5):
            bar.set_postfix_str("loss 0.1", refresh=False)
            bar.update()
    text = out.getvalue()
    assert "demo" in text and "5/5" in text and "100%" in text and "loss 0.1" in text
    quiet = io.StringIO()
    with progress(5, "demo", quiet=True, stream=quiet) as bar:
        bar.update(5)
    assert quiet.getvalue() == ""


@pytest.mark.parametrize("quiet", [False, True])
def test_wind_training_loop_shows_a_tqdm_bar_unless_quiet(quiet):
    stream = io.StringIO()
    model = torch.nn.Linear(3, 3)
    x = torch.randn(10, 3)
    hist = train_model(model, x, x, torch.tensor(1.0), epochs=2, batch_size=4, lr=1e-2, seed=0,
                       log=Log(quiet, stream=stream), label="toy")
    assert len(hist) == 2
    text = stream.getvalue()
    assert (text == "") if quiet else ("toy" in text and "6/6" in text and "epoch 2/2 loss" in text)


@pytest.mark.parametrize("module", ["springs.run", "mnist_points.run", "tetris.tetris"])
def test_every_example_has_a_quiet_switch(module, capsys):
    import importlib

    mod = importlib.import_module(f"fiberconv.examples.{module}")
    with pytest.raises(SystemExit) as e:
        (mod.parse_args if hasattr(mod, "parse_args") else mod.main)(["--help"])
    assert e.value.code == 0 and "--quiet" in capsys.readouterr().out
