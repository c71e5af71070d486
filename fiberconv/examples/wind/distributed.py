"""Multi-process training of the wind example: ``torchrun --nproc_per_node N -m fiberconv.examples.wind``.

torchrun sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` (and the rendezvous address); :func:`setup` then joins
the process group — NCCL when the processes train on CUDA (one GPU each, ``cuda:LOCAL_RANK``), gloo on the
CPU. Each global batch of ``--batch-size`` months is split across the processes: every process draws the
same permutation of the training months (the same seed as one process), and a
:class:`~torch.utils.data.DistributedSampler` over its positions gives process ``r`` the positions
``r, r + N, ...``, so that the ``--batch-size / N`` months of step ``b`` on each process together are exactly
the months of step ``b`` of a single process. :class:`~torch.nn.parallel.DistributedDataParallel` averages the
gradients and the batch normalisations use the statistics of the whole batch
(:func:`fiberconv.nn.sync_field_batch_norm`), so the trained models equal those of one process up to the order
of floating-point sums (when the
number of training months is a multiple of N; otherwise the sampler repeats up to N - 1 months per epoch to
even the processes out). Rank 0 alone logs, draws and writes the checkpoint and results.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

__all__ = ["Distributed", "setup"]


@dataclass
class Distributed:
    """Where this process stands: ``rank`` of ``world`` processes; ``world == 1`` without torchrun."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """Rank 0: the process that logs and writes."""
        return self.rank == 0

    def check_batch(self, batch_size: int, flag: str) -> None:
        if batch_size % self.world:
            raise SystemExit(f"{flag} {batch_size}: must be a multiple of the number of processes ({self.world}) so "
                             "that every process trains on the same number of months per step")

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """``DistributedDataParallel(model)`` (the gradients averaged over the processes), or the model itself."""
        if not self.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel

        from fiberconv.nn import sync_field_batch_norm

        sync_field_batch_norm(model)  # batch statistics over all processes' batches, as one process has them
        ids = [model_device(model).index] if model_device(model).type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def local_order(self, perm: torch.Tensor) -> torch.Tensor:
        """This process's share of the global order ``perm``: positions ``rank, rank + world, ...``."""
        if not self.enabled:
            return perm
        from torch.utils.data import DistributedSampler

        pos = list(DistributedSampler(range(len(perm)), num_replicas=self.world, rank=self.rank, shuffle=False))
        return perm[torch.tensor(pos, device=perm.device)]

    def global_mean(self, value: torch.Tensor, count: int) -> float:
        """Mean over the processes' samples of a per-process mean ``value`` over ``count`` samples."""
        if not self.enabled:
            return float(value.detach())
        import torch.distributed as dist

        t = torch.stack([value.detach().double() * count, torch.tensor(float(count), dtype=torch.float64,
                                                                        device=value.device)])
        dist.all_reduce(t)
        return float(t[0] / t[1])

    def close(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def model_device(model: torch.nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def setup(device: torch.device) -> tuple[Distributed, torch.device]:
    """Join the process group when run by torchrun (``WORLD_SIZE > 1``); the device of this process (CUDA:
    ``cuda:LOCAL_RANK``)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed(), device
    import torch.distributed as dist

    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world)
    return Distributed(rank, world, local), device
