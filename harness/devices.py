"""Where a model or judge runs: ``device=auto`` resolves to this rank's own GPU, or the CPU.

Under torchrun / accelerate every process sees all GPUs; ``LOCAL_RANK`` says which one is this rank's, so
data-parallel ranks never pile onto ``cuda:0``. Adapters record the resolved device's kind (``cpu`` / ``cuda``)
in describe(), not its index: describe() is hashed into stage-cache keys, which every rank must share.

The GPUs are counted by the library that will run the model (``backend``): a CTranslate2 adapter asks
CTranslate2, which answers without importing torch (1.5 s of a cached rerun's 2.5 s when it did) and knows
whether its own build has CUDA at all.
"""
from __future__ import annotations

import os

AUTO = "auto"
BACKENDS = ("torch", "ctranslate2")


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def cuda_device_count(backend: str = "torch") -> int:
    """GPUs ``backend`` can use here; 0 when the backend is not installed (an adapter may still ask)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r}; use one of {', '.join(BACKENDS)}")
    if backend == "ctranslate2":
        try:
            import ctranslate2
        except ImportError:
            return 0
        return int(ctranslate2.get_cuda_device_count())
    try:
        import torch
    except ImportError:
        return 0
    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0


def cuda_available(backend: str = "torch") -> bool:
    return cuda_device_count(backend) > 0


def resolve_device(requested: str | None = AUTO, backend: str = "torch") -> str:
    """``auto``/None -> ``cuda:<local rank>`` when ``backend`` sees a GPU, else ``cpu``; ``cuda`` -> this rank's
    GPU; an explicit ``cuda:N`` or ``cpu`` is kept. Anything else is a ValueError naming what is accepted."""
    value = (requested or AUTO).strip().lower()
    if value == AUTO:
        value = "cuda" if cuda_available(backend) else "cpu"
    if value == "cuda":
        return f"cuda:{local_rank() % max(cuda_device_count(backend), 1)}"
    if value == "cpu" or (value.startswith("cuda:") and value[5:].isdigit()):
        return value
    raise ValueError(f"device={requested!r}; use auto, cpu, cuda or cuda:N")


def split_device(device: str) -> tuple[str, int]:
    """``cuda:1`` -> ("cuda", 1); ``cpu`` -> ("cpu", 0): the (device, device_index) pair CTranslate2 takes."""
    kind, _, index = device.partition(":")
    return kind, int(index or 0)
