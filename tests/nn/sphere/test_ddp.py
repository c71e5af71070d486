"""DistributedDataParallel with default arguments (it broadcasts buffers, which must be dense): two CPU
processes (gloo) train one SphericalUNet step on halves of a batch; the averaged gradients equal a
single-process step on the whole batch."""
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from fiberconv.fields import sphere_field_type
from fiberconv.nn import SphericalUNet
from fiberconv.spaces import HealpixGrid


def _model():
    torch.manual_seed(0)
    return SphericalUNet(sphere_field_type((0, 1)), sphere_field_type((1, 1)), HealpixGrid(2, nest=True),
                         widths=((2, 1), (2, 1)), dtype=torch.float64).eval()  # eval: no batch statistics


def _data():
    gen = torch.Generator().manual_seed(1)
    return torch.randn(4, 1, 48, generator=gen, dtype=torch.float64), torch.randn(4, 2, 48, generator=gen, dtype=torch.float64)


def _worker(rank, world, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model = torch.nn.parallel.DistributedDataParallel(_model())
        x, y = _data()
        half = slice(2 * rank, 2 * rank + 2)
        torch.nn.functional.mse_loss(model(x[half]), y[half]).backward()
        if rank == 0:
            torch.save({n: p.grad for n, p in model.module.named_parameters()}, out)
    finally:
        dist.destroy_process_group()


def test_ddp_default_arguments_match_a_single_process(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = str(tmp_path / "grads.pt")
    mp.spawn(_worker, args=(2, port, out), nprocs=2, join=True)
    got = torch.load(out)
    model = _model()
    x, y = _data()
    # mean over the two halves of each half's mean loss = the mean loss of the whole batch
    torch.nn.functional.mse_loss(model(x), y).backward()
    for name, p in model.named_parameters():
        assert torch.allclose(got[name], p.grad, atol=1e-12, rtol=1e-9), name
