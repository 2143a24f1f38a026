"""Data-parallel training across processes: PyTorch's DistributedDataParallel under `torchrun`.

`torchrun --nproc_per_node=N -m occuseg_core.cli train ...` (or `occuseg train --nproc N`, which
calls torch's launcher) starts N copies of the training command; each finds its rank in the
environment torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK) and joins a process group: NCCL on
GPUs (process r uses cuda:LOCAL_RANK), gloo on CPUs. Each rank trains on its own share of
every epoch's scenes (`DistributedSampler`, which pads the last share with repeats so that all
ranks take the same number of steps) and DDP averages the gradients, so one step of N ranks
with B scenes each is one step on N x B scenes at the config's learning rate (not rescaled;
the command prints both). Only rank 0 writes the run directory and prints.

Normalisation: `norm: scene` normalises every scene by its own statistics, the same on any
number of ranks. With `norm: batch` on GPUs the BatchNorm layers become SyncBatchNorm (the
statistics of the whole N x B batch, as one process with that batch would compute); on CPUs
(gloo), where torch has no SyncBatchNorm, each rank normalises by its own batch and DDP keeps
rank 0's running statistics.

Every decision that could differ between ranks is agreed on in a collective: a non-finite
loss skips the step everywhere, and the training clock is the slowest rank's (all-reduced
every step), so the learning rate and the time limit are the same on every rank. Every rank
validates (the same weights, the same result; only rank 0 records it), so none waits in a
collective while another validates. A rank that dies makes the others fail with
`OccusegError` within seconds, one that stops answering after `timeout`, instead of a hang.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from occuseg_core.errors import OccusegError

DEFAULT_TIMEOUT_MIN = 30.0


@dataclass(frozen=True)
class DistributedContext:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    timeout_min: float = DEFAULT_TIMEOUT_MIN

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def context_from_env(timeout_min: float = DEFAULT_TIMEOUT_MIN) -> DistributedContext:
    """The context torchrun's environment describes (RANK, WORLD_SIZE, LOCAL_RANK), or one
    process when WORLD_SIZE is absent or 1.

    Raises:
        OccusegError: a malformed or inconsistent rank environment.
    """
    try:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise OccusegError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (torchrun sets"
                           " them)") from None  # fmt: skip
    if world_size < 1 or not 0 <= rank < world_size or local_rank < 0:
        raise OccusegError(f"bad torchrun environment: RANK={rank} WORLD_SIZE={world_size}"
                           f" LOCAL_RANK={local_rank}")  # fmt: skip
    if not timeout_min > 0:
        raise OccusegError(f"the DDP timeout must be > 0 minutes; got {timeout_min}")
    return DistributedContext(rank, world_size, local_rank, float(timeout_min))


def init_process_group(context: DistributedContext, device: torch.device) -> torch.device:
    """Joins the process group (NCCL for CUDA, gloo otherwise) and returns this rank's device.

    A no-op for one process. On CUDA, rank r takes cuda:LOCAL_RANK.
    """
    if not context.active:
        return device
    if device.type == "cuda":
        if context.local_rank >= torch.cuda.device_count():
            count = torch.cuda.device_count()
            raise OccusegError(f"process {context.local_rank} of this machine needs GPU"
                               f" cuda:{context.local_rank}, but it has {count}: use --nproc"
                               " <= the GPU count")  # fmt: skip
        device = torch.device("cuda", context.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(
            backend="nccl" if device.type == "cuda" else "gloo",
            rank=context.rank,
            world_size=context.world_size,
            timeout=timedelta(minutes=context.timeout_min),
        )
    return device


def wrap_model(model: torch.nn.Module, context: DistributedContext, device: torch.device):
    """The model as DDP wraps it (SyncBatchNorm on CUDA), or the model itself for one process.
    DDP broadcasts rank 0's parameters and buffers at construction."""
    if not context.active:
        return model
    if device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index], output_device=device.index
        )
    return torch.nn.parallel.DistributedDataParallel(model)


def any_rank(flag: bool, context: DistributedContext) -> bool:
    """True when `flag` is true on any rank (one small all-reduce); `flag` for one process."""
    return max_over_ranks(1.0 if flag else 0.0, context) > 0


def max_over_ranks(value: float, context: DistributedContext) -> float:
    """The largest of `value` over the ranks (e.g. the training clock, so that every rank
    follows the slowest one's schedule and time limit); `value` for one process."""
    if not context.active:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=_collective_device())
    _collective(lambda: dist.all_reduce(tensor, op=dist.ReduceOp.MAX), context)
    return float(tensor.item())


def is_collective_failure(error: BaseException) -> bool:
    """Whether an error raised during a step comes from the process group (a peer that died or
    timed out) rather than from this rank's own work (e.g. running out of memory)."""
    if isinstance(error, dist.DistError):
        return True
    text = str(error)
    return any(mark in text for mark in ("gloo", "NCCL", "Connection closed", "Connection reset",
                                         "Broken pipe", "Timed out", "timed out"))  # fmt: skip


def mean_over_ranks(values: dict[str, float], context: DistributedContext) -> dict[str, float]:
    """Each value averaged over the ranks (keys must be the same on every rank)."""
    if not context.active or not values:
        return values
    names = sorted(values)
    tensor = torch.tensor([values[n] for n in names], dtype=torch.float64,
                          device=_collective_device())  # fmt: skip
    _collective(lambda: dist.all_reduce(tensor), context)
    return {n: float(v) / context.world_size for n, v in zip(names, tensor.tolist(), strict=True)}


def _collective_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _collective(call, context: DistributedContext) -> None:
    try:
        call()
    except (RuntimeError, dist.DistError) as error:
        raise peer_failure(error, context) from None


def peer_failure(error: BaseException, context: DistributedContext) -> OccusegError:
    """The one-line error for a collective that failed: another rank died or stopped answering."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return OccusegError(
        f"rank {context.rank} of {context.world_size}: another training process stopped or did"
        f" not answer within {context.timeout_min:g} min; the run is stopped ({first[:200]})"
    )


def shutdown(context: DistributedContext) -> None:
    """Leaves the process group (a no-op for one process or after a failure)."""
    if context.active and dist.is_initialized():
        dist.destroy_process_group()


def launch(nproc: int, argv: list[str]) -> int:
    """Runs `occuseg <argv>` in `nproc` processes on this machine through torch's launcher
    (`torchrun --standalone --nproc_per_node=nproc -m occuseg_core.cli ...`); returns the exit
    code. For several machines, call torchrun with its rendezvous options (docs/TRAINING.md)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    if nproc < 1:
        raise OccusegError(f"--nproc must be >= 1; got {nproc}")
    # All ranks are on this machine: gloo talks over loopback, not a network card.
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (cores or 1) // nproc)))
    try:
        torchrun(["--standalone", f"--nproc_per_node={nproc}", "-m", "occuseg_core.cli", *argv])
    except ChildFailedError as error:
        failures = ", ".join(f"rank {rank} (exit code {failure.exitcode})"
                             for rank, failure in sorted(error.failures.items()))  # fmt: skip
        raise OccusegError(f"distributed training failed: {failures}; their messages are"
                           " above") from None  # fmt: skip
    return 0
