"""The speech-tokenizer stage of the data builders, sharded over worker processes (and GPUs where present).

``pretokenize(items, spec, workers)`` fills the tokenizer's per-audio cache (one ``.npy`` per tokenizer hash +
audio hash, written atomically: models.cslm.speech_tokenizer) from ``workers`` processes, each on a strided
shard, each with its own tokenizer (worker k on GPU k mod n when onnxruntime sees GPUs). The builder then runs
exactly as with one process, reading every sample's units from the cache, so its records are byte-identical
whatever the number of workers and their order of completion; a run killed midway resumes from what the cache
already holds. Audio that cannot be read or tokenized is left to the builder, which records the row's problem.
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from harness.audio import AudioPolicy
from harness.manifest import ManifestItem


@dataclass(frozen=True)
class TokenizerSpec:
    model_path: str                 # speech_tokenizer_v1.onnx or a codec folder (what SpeechTokenizer takes)
    cache_dir: str                  # the per-audio cache the builder reads afterwards (required: it is the merge)
    long_audio: str = "error"       # SpeechTokenizer's policy for audio over 30 s
    threads: int = 1                # threads per worker (workers x threads <= cores)


def _gpu_providers(worker: int) -> list | None:
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return None
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 1
    return [("CUDAExecutionProvider", {"device_id": worker % max(count, 1)}), "CPUExecutionProvider"]


def _work(spec: TokenizerSpec, items: list[ManifestItem], worker: int) -> dict[str, int]:
    """One shard: tokenize each item into the cache. Failures are skipped here (the builder reports them)."""
    from harness.audio import item_audio
    from models.cslm.speech_tokenizer import SpeechTokenizer

    tokenizer = SpeechTokenizer(spec.model_path, long_audio=spec.long_audio, cache_dir=spec.cache_dir,
                                providers=_gpu_providers(worker), threads=spec.threads)
    failed = 0
    for item in items:
        try:
            tokenizer.tokenize(item_audio(item, 16000, AudioPolicy()).samples)
        except Exception:  # noqa: BLE001 -- the builder re-reads this row and records why it failed
            failed += 1
    return {**tokenizer.stats, "failed": failed, "items": len(items)}


def pretokenize(items: list[ManifestItem], spec: TokenizerSpec, workers: int, progress: bool = True) -> dict[str, int]:
    """Fill the cache for ``items`` from ``workers`` processes; returns summed counters (cache hits = resumed)."""
    from tqdm.auto import tqdm

    if workers < 1:
        raise ValueError(f"--workers must be at least 1 (got {workers})")
    Path(spec.cache_dir).mkdir(parents=True, exist_ok=True)
    shards = [items[k::workers] for k in range(workers)]
    totals: dict[str, int] = {}
    # spawn: each worker imports what it needs afresh (no forked torch/onnxruntime threads or CUDA state).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool, \
            tqdm(total=workers, desc=f"speech tokenizer x{workers}", unit="shard", disable=not progress) as bar:
        futures = [pool.submit(_work, spec, shard, k) for k, shard in enumerate(shards) if shard]
        for future in futures:
            for key, value in future.result().items():
                totals[key] = totals.get(key, 0) + value
            bar.update(1)
    return totals
