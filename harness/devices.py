"""Where a model or judge runs: ``device=auto`` resolves to this rank's own GPU, or the CPU.

Under torchrun / accelerate every process sees all GPUs; ``LOCAL_RANK`` says which one is this rank's, so
data-parallel ranks never pile onto ``cuda:0``. Adapters record the resolved device's kind (``cpu`` / ``cuda``)
in describe(), not its index: describe() is hashed into stage-cache keys, which every rank must share.
"""
from __future__ import annotations

import os

AUTO = "auto"


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # an adapter without torch (CTranslate2, onnxruntime) may still ask
        return False
    return bool(torch.cuda.is_available())


def resolve_device(requested: str | None = AUTO) -> str:
    """``auto``/None -> ``cuda:<local rank>`` when a GPU is visible, else ``cpu``; ``cuda`` -> this rank's GPU;
    an explicit ``cuda:N`` or ``cpu`` is kept. Anything else is a ValueError naming what is accepted."""
    value = (requested or AUTO).strip().lower()
    if value == AUTO:
        value = "cuda" if cuda_available() else "cpu"
    if value == "cuda":
        import torch

        return f"cuda:{local_rank() % max(torch.cuda.device_count(), 1)}"
    if value == "cpu" or (value.startswith("cuda:") and value[5:].isdigit()):
        return value
    raise ValueError(f"device={requested!r}; use auto, cpu, cuda or cuda:N")


def split_device(device: str) -> tuple[str, int]:
    """``cuda:1`` -> ("cuda", 1); ``cpu`` -> ("cpu", 0): the (device, device_index) pair CTranslate2 takes."""
    kind, _, index = device.partition(":")
    return kind, int(index or 0)
