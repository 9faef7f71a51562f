"""Multi-process training with torchrun: gloo on CPU, NCCL on GPU; only rank 0 writes files."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device: torch.device) -> Dist:
    """Join the process group that torchrun describes in the environment (no-op alone)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Dist()
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def teardown(wait_for_all: bool = True) -> None:
    """Leave the process group. With ``wait_for_all`` every rank first waits for the others
    (rank 0 validates and saves after the last step): a rank that tore down and exited while
    another still used the group could abort in gloo's threads at exit."""
    if dist.is_available() and dist.is_initialized():
        if wait_for_all:
            dist.barrier()
        dist.destroy_process_group()


def broadcast_flag(flag: bool, info: Dist) -> bool:
    """Rank 0's decision (e.g. early stop) for every rank."""
    if not info.enabled:
        return flag
    value = torch.tensor([1.0 if flag else 0.0])
    dist.broadcast(value, src=0)
    return bool(value.item())
