"""Which device a model runs on (auto, cpu, cuda, cuda:N, mps: refused in words where absent), and the
reduced precision each runs inference in (and whether the hardware computes bf16, which training asks)."""
from __future__ import annotations

import contextlib

import torch

from ..utils.choices import DEVICES
from ..utils.errors import UserError
from ..utils.numbers import is_whole_number


def bf16_native(device: torch.device) -> bool:
    """bf16 that the hardware computes (CPUs with AVX-512 bf16 or AMX; recent GPUs), not emulates."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def reduced_precision(device: torch.device) -> contextlib.AbstractContextManager:
    """fp16 on CUDA, bf16 on CPUs with native bf16 (about 1.8x faster here, output within ~50 dB
    PSNR of fp32 and the same validation scores); plain fp32 elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    if device.type == "cpu" and bf16_native(device):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """auto -> cuda if available, else mps, else cpu; a device named (cpu, cuda, cuda:N, mps) must be there."""
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        return torch.device("mps" if mps else "cpu")
    kind, colon, number = name.partition(":")
    if kind not in DEVICES[1:] or (colon and (kind != "cuda" or not is_whole_number(number))):
        raise UserError(f"unknown device {name!r} (auto, cpu, cuda, cuda:N or mps)")
    if kind == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name} asked for, but no CUDA GPU is available")
    if kind == "cuda" and int(number or local_rank) >= torch.cuda.device_count():
        raise UserError(f"--device {name} asked for, but this machine has {torch.cuda.device_count()} CUDA GPUs")
    if kind == "mps" and not mps:
        raise UserError("--device mps asked for, but no Apple GPU (MPS) is available")
    return torch.device("cuda", int(number or local_rank)) if kind == "cuda" else torch.device(kind)
