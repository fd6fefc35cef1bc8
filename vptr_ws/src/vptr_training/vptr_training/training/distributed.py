"""torchrun / DDP plumbing: process group from the environment, rank-0-only side effects.

`torchrun --nproc_per_node N -m vptr_training.cli train ...` sets RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR and MASTER_PORT; without them everything runs as a single process
(rank 0 of 1) and no process group is created. NCCL on CUDA, gloo on CPU.
"""
from __future__ import annotations

from dataclasses import dataclass
import os

import torch
import torch.distributed as dist

from vptr_training.errors import ConfigError


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device('cpu')
    initialized_here: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """'auto' -> cuda:LOCAL_RANK when CUDA is available, else cpu."""
    if name == 'auto':
        name = 'cuda' if torch.cuda.is_available() else 'cpu'
    if name == 'cuda':
        name = f'cuda:{local_rank}'
    device = torch.device(name)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise ConfigError(f'device={name} but CUDA is not available on this machine')
    return device


def init_from_env(device_name: str = 'auto') -> DistInfo:
    """Join the process group torchrun describes (if any) and choose this rank's device."""
    world_size = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    local_rank = int(os.environ.get('LOCAL_RANK', '0'))
    device = pick_device(device_name, local_rank)
    if world_size <= 1:
        return DistInfo(0, 1, 0, device, False)
    initialized_here = False
    if not dist.is_initialized():
        backend = 'nccl' if device.type == 'cuda' else 'gloo'
        if device.type == 'cuda':
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
        initialized_here = True
    return DistInfo(rank, world_size, local_rank, device, initialized_here)


def barrier(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        if info.device.type == 'cuda':
            dist.barrier(device_ids=[info.device.index or 0])
        else:
            dist.barrier()


def gather_tensors(info: DistInfo, tensor: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's copy of a same-shaped tensor (all ranks receive the list)."""
    if not info.enabled:
        return [tensor]
    backend_device = info.device if info.device.type == 'cuda' else torch.device('cpu')
    local = tensor.to(backend_device)
    out = [torch.empty_like(local) for _ in range(info.world_size)]
    dist.all_gather(out, local)
    return [t.cpu() for t in out]


def shutdown(info: DistInfo) -> None:
    if info.initialized_here and dist.is_initialized():
        dist.destroy_process_group()
