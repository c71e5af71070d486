"""The wind example under torchrun (issue 15): 2 CPU processes (gloo) train the same steps as one process.

The training loop itself is compared in float64 (spawned processes, trained weights equal to 1e-10); the
command line end to end in float32 under ``torchrun --nproc_per_node 2``, where Adam's first steps amplify
float32 rounding in near-zero gradients, so the results agree to a few 1e-3."""
from __future__ import annotations

import json
import os
import pathlib
import re
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as tdist
import torch.multiprocessing as mp

from fiberconv.examples.wind.cli import Log
from fiberconv.examples.wind.distributed import Distributed
from fiberconv.examples.wind.models import Downscaler, Resolution
from fiberconv.examples.wind.train import train_model
from fiberconv.spaces import HealpixGrid

pytestmark = pytest.mark.skipif(not tdist.is_available() or not tdist.is_gloo_available(),
                                reason="torch.distributed with gloo is not available")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(dist: Distributed) -> dict:
    torch.manual_seed(0)
    grid = HealpixGrid(4, nest=True)
    fine = torch.randn(6, 2, grid.npix, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    coarse = Resolution(grid, 1).double().degrade(fine)
    model = Downscaler(grid, [(2, 1), (2, 1)], equivariant=True, latitude=False, scale=1.0).double()
    hist = train_model(model, coarse, fine, torch.tensor(1.0, dtype=torch.float64), epochs=2, batch_size=4, lr=1e-2,
                       seed=3, log=Log(quiet=True), label="test", dist=dist)
    return {"loss": hist, "state": {k: v.clone() for k, v in model.state_dict().items()}}


def _worker(rank: int, world: int, port: int, path: str) -> None:
    torch.set_num_threads(1)
    tdist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        out = _train(Distributed(rank, world))
        if rank == 0:
            torch.save(out, path)
    finally:
        tdist.destroy_process_group()


def test_two_processes_train_the_same_steps_as_one_float64(tmp_path):
    """6 samples, batches of 4 (2 per process; the last step 1 each): DDP's averaged gradients are the
    single process's gradients up to rounding."""
    path = str(tmp_path / "ddp.pt")
    mp.spawn(_worker, args=(2, _free_port(), path), nprocs=2, join=True)
    two, one = torch.load(path), _train(Distributed())
    assert torch.allclose(torch.tensor(two["loss"]), torch.tensor(one["loss"]), rtol=1e-12)
    for k, v in one["state"].items():
        assert torch.allclose(two["state"][k], v, rtol=1e-9, atol=1e-12), k


def readme_torchrun_command() -> list[str]:
    """The README's one-machine torchrun command ("more than one GPU / machine"), as an argument list."""
    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    (line,) = [c for c in re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S) if c.startswith("torchrun --standalone")]
    return line.split()


def test_torchrun_two_cpu_processes_end_to_end(tmp_path):
    """The README's command, run with its output in tmp_path (and no figures, one thread, quiet)."""
    args = readme_torchrun_command()
    assert args[:4] == ["torchrun", "--standalone", "--nproc_per_node", "2"] and "--tiny" in args
    args = args[: args.index("--out")] + ["--out", str(tmp_path / "two")] + args[args.index("--out") + 2 :]
    extra = ["--seed", "0", "--no-plots", "--threads", "1", "--quiet"]
    common = ["--tiny", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", *args[1:], *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("Wind downscaling") == 1  # rank 0 alone prints the table
    assert (tmp_path / "two" / "models.pt").is_file()
    from fiberconv.examples.wind.train import main

    threads = torch.get_num_threads()
    try:
        main([*common, "--out", str(tmp_path / "one")])
    finally:
        torch.set_num_threads(threads)
    a = json.loads((tmp_path / "one" / "results.json").read_text())
    b = json.loads((tmp_path / "two" / "results.json").read_text())
    assert b["processes"] == 2 and a["processes"] == 1
    for name in a["downscaling"]:
        assert a["downscaling"][name]["loss"] == pytest.approx(b["downscaling"][name]["loss"], rel=1e-3)
        for case, row in a["downscaling_table"][name].items():
            assert row["rmse"] == pytest.approx(b["downscaling_table"][name][case]["rmse"], rel=2e-3), (name, case)
    assert a["vortdiv"]["loss"] == pytest.approx(b["vortdiv"]["loss"], rel=1e-3)


def test_batch_size_must_split_evenly():
    with pytest.raises(SystemExit, match="--batch-size 3: must be a multiple of the number of processes \\(2\\)"):
        Distributed(0, 2).check_batch(3, "--batch-size")
