"""Scaling a training run up: devices, mixed precision, torch.compile, several processes.

None of this changes what one training step computes; it changes where and how fast.
:class:`lmlib.train.Trainer` keeps a :class:`Scaling` and calls it at four points of its
step: :meth:`Scaling.pieces` (this process's share of the batch, on the device),
:meth:`Scaling.loss` (the forward pass, under autocast, compiled or not),
:meth:`Scaling.backward` and :meth:`Scaling.update` (gradient scaling, clipping, the
optimizer step), and :meth:`Scaling.mean` (the loss averaged over processes).

- device: :func:`lmlib.get_device` (CUDA when present, else the CPU);
- mixed precision on a GPU (``amp``): bf16 autocast, or fp16 with a gradient scaler;
- ``compile=True`` runs ``torch.compile`` (opt-in; a failure is a :class:`CompileError`);
- data parallelism with PyTorch's ``DistributedDataParallel`` under ``torchrun``: every
  process draws the same global batch and keeps its slice; gradients are accumulated over
  ``micro_batches`` and averaged over processes; only rank 0 writes logs and checkpoints.
"""

from __future__ import annotations

import contextlib
import os
import sys

import torch
import torch.nn as nn

__all__ = ["AMP_MODES", "resolve_amp", "compile_unavailable_reason", "CompileError",
           "distributed_info", "init_distributed", "Scaling"]


AMP_MODES = ("auto", "off", "bf16", "fp16")


def resolve_amp(amp: str, device) -> torch.dtype | None:
    """The autocast dtype for ``amp`` on ``device``: ``None`` means full float32.

    ``"auto"`` is bfloat16 on a CUDA GPU that supports it, float16 (with a gradient scaler)
    on an older one, and off on the CPU and on MPS (mixed precision saves little there and
    changes the numbers). ``"bf16"``/``"fp16"`` asked for explicitly need CUDA.
    """
    if amp not in AMP_MODES:
        raise ValueError(f"amp must be one of {AMP_MODES}, got {amp!r}")
    device = torch.device(device)
    if amp == "off":
        return None
    if device.type != "cuda":
        if amp == "auto":
            return None
        raise ValueError(f"amp={amp!r} needs a CUDA device; on {device.type} use amp='auto' "
                         f"or 'off' (mixed precision is off on the CPU)")
    if amp == "fp16":
        return torch.float16
    if amp == "bf16":
        if not torch.cuda.is_bf16_supported():
            raise ValueError("amp='bf16' was asked for, but this GPU has no bfloat16; use "
                             "amp='fp16' or 'auto'")
        return torch.bfloat16
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def compile_unavailable_reason(device) -> str | None:
    """Why ``torch.compile`` cannot work here (a sentence), or ``None`` if it should."""
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile (it needs torch >= 2.0)"
    try:
        import torch._dynamo as dynamo

        supported = getattr(dynamo, "is_dynamo_supported", None)
        if supported is not None and not supported():
            return f"torch.compile does not support this Python ({sys.version.split()[0]})"
    except ImportError as err:
        return f"torch.compile cannot be imported: {err}"
    if torch.device(device).type == "cpu":
        import shutil

        if not any(shutil.which(cc) for cc in (os.environ.get("CXX", ""), "g++", "c++", "clang++")
                   if cc):
            return "torch.compile on the CPU needs a C++ compiler (g++ or clang++), none found"
    return None


class CompileError(RuntimeError):
    """``torch.compile`` was asked for (``TrainConfig.compile=True``) and failed."""


def distributed_info() -> tuple[int, int]:
    """``(rank, world_size)`` of this process: ``(0, 1)`` unless a torch.distributed process
    group is running (e.g. under ``torchrun``)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed(device_name: str | None = None) -> None:
    """Join the process group that ``torchrun`` set up (its environment variables say
    where): NCCL between GPUs, gloo between CPU processes."""
    import datetime

    import torch.distributed as dist

    from lmlib import get_device

    device = get_device(device_name)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    timeout = datetime.timedelta(seconds=float(os.environ.get("LMLIB_DIST_TIMEOUT", "600")))
    dist.init_process_group(backend=backend, timeout=timeout)



class Scaling:
    """Where and how the steps of one run execute (see the module's docstring)."""

    def __init__(self, model: nn.Module, device=None, amp: str = "auto", compile: bool = False,
                 batch_size: int = 1, micro_batches: int = 1):
        from lmlib import get_device

        self.rank, self.world_size = distributed_info()
        self.micro_batches = micro_batches
        parts = self.world_size * micro_batches
        if batch_size % parts:
            raise ValueError(
                f"TrainConfig.batch_size ({batch_size}) must be divisible by the number "
                f"of processes ({self.world_size}) times micro_batches ({micro_batches}) "
                f"= {parts}; use fewer processes (--nproc_per_node) or another batch_size")
        self.piece = batch_size // parts
        self.device = get_device(device)
        if self.world_size > 1 and self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", self.rank)))
        self.amp_dtype = resolve_amp(amp, self.device)
        self.compile = compile
        if compile:
            reason = compile_unavailable_reason(self.device)
            if reason is not None:
                raise ValueError(f"TrainConfig.compile=True, but {reason}; use compile=False")
        self.scaler = (torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16
                       else None)
        self.model = model.to(self.device)
        self.train_model = self.model  # what loss() calls: possibly compiled, possibly DDP
        if compile:
            self.train_model = torch.compile(self.train_model)
        if self.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = DDP(self.train_model, device_ids=ids)

    @property
    def is_main(self) -> bool:
        """The process that writes checkpoints and logs (rank 0)."""
        return self.rank == 0

    def pieces(self, batch: tuple) -> list[tuple[torch.Tensor, ...]]:
        """This process's micro-batches of the global ``batch`` (a tuple of arrays or tensors
        with the examples along the first axis, e.g. ``(x, y)``), on the device: the batch
        is cut into ``world_size * micro_batches`` equal pieces."""
        m, piece = self.micro_batches, self.piece
        mine = slice(self.rank * m * piece, (self.rank + 1) * m * piece)
        batch = [torch.as_tensor(a[mine]).to(self.device) for a in batch]
        return [tuple(a[i * piece:(i + 1) * piece] for a in batch) for i in range(m)]

    def sync(self, last: bool):
        """DDP all-reduces gradients in backward: skip that until the last micro-batch."""
        if self.world_size > 1 and not last:
            return self.train_model.no_sync()
        return contextlib.nullcontext()

    def autocast(self):
        """bf16/fp16 autocast on a GPU (see :func:`resolve_amp`), nothing otherwise."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def loss(self, *piece) -> torch.Tensor:
        """The model's scalar loss on a piece of a batch, ``model(*piece)``, in float32."""
        with self.autocast():
            try:  # with compile, the first call compiles: a missing toolchain shows up here
                _, loss = self.train_model(*piece)
            except Exception as err:
                if self.compile and type(err).__module__.startswith(("torch._dynamo",
                                                                      "torch._inductor")):
                    raise CompileError(f"torch.compile failed ({type(err).__name__}: "
                                       f"{str(err)[:300]}); train with compile=False") from err
                raise
        if loss is None or not torch.is_tensor(loss) or loss.dim() != 0:
            raise ValueError("model(idx, targets) must return (logits, loss) with a scalar loss")
        return loss.float()

    def backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def update(self, optimizer, grad_clip: float) -> None:
        """Clip the gradients' global norm to ``grad_clip`` (0: no clipping), then step."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), grad_clip)
        if self.scaler is not None:
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            optimizer.step()

    def mean(self, total: torch.Tensor) -> float:
        """``total`` averaged over the processes."""
        if self.world_size > 1:
            import torch.distributed as dist

            dist.all_reduce(total)
            total /= self.world_size
        return total.item()

    def agree(self, stop: bool) -> bool:
        """Rank 0's decision, on every rank (processes must stop at the same step, or the
        others would wait forever for its gradients)."""
        if self.world_size == 1:
            return stop
        import torch.distributed as dist

        flag = torch.tensor([int(stop)], device=self.device)
        dist.broadcast(flag, 0)
        return bool(flag.item())
