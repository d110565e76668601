"""Generation options of the CSLM adapter: frozen, commented, written into every results file.

Every field is overridable with ``--model-arg key=value`` (strings, converted here, checked in one place).
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields
from typing import Any

from harness.model import ModelConfigError
from models.common import convert

PROMPT_MODES = ("released", "generation-prompt")
DECODINGS = ("general", "cross")
CHAINS = ("interleaved", "full")
DTYPES = ("auto", "float32", "float16", "bfloat16")


@dataclass(frozen=True)
class CSLMGenerationOptions:
    temperature: float = 1.0        # released decode_general.py sampling temperature
    top_p: float = 0.7              # released nucleus threshold
    # The released GenerationConfig leaves top_k unset, so transformers' default (50) filters too; 0 disables.
    top_k: int = 50
    # Released argparse default. NB the released script never forwards --max-new-tokens to LLMInference, whose
    # own default (4096) is what actually runs there; set max_new_tokens=4096 to match that behaviour.
    max_new_tokens: int = 2048
    do_sample: bool = True          # released: sampling; False = greedy (temperature/top_p then unused)
    seed: int = 0                   # base seed; each request draws from seed + hash(prompt ids): order-free
    prompt_mode: str = "released"   # "released": byte-for-byte released prompt; "generation-prompt": standard
    decoding: str = "general"       # respond(): "general" (answer in the input language) or "cross" (out_lang)
    chain: str = "interleaved"      # expected output layout: "interleaved" CoM or "full" CoM (parsing/latency)
    dtype: str = "auto"             # "auto": float32 on CPU; bfloat16 on GPU when supported, else float16
    max_input_tokens: int = 4096    # released LLMInference max_len_input: longer prompts are cut (as released)
    merge_input_units: bool = True  # merge repeated input units before the LLM (how CSLM was trained)

    def __post_init__(self) -> None:
        checks = [("prompt_mode", PROMPT_MODES), ("decoding", DECODINGS), ("chain", CHAINS), ("dtype", DTYPES)]
        for name, allowed in checks:
            if getattr(self, name) not in allowed:
                raise ModelConfigError(f"{name}={getattr(self, name)!r}: choose one of {', '.join(allowed)}")
        if self.max_new_tokens < 1 or self.max_input_tokens < 1:
            raise ModelConfigError("max_new_tokens and max_input_tokens must be at least 1")
        if self.do_sample and (self.temperature <= 0 or not 0 < self.top_p <= 1):
            raise ModelConfigError(f"sampling needs temperature > 0 and 0 < top_p <= 1 (got temperature="
                                   f"{self.temperature}, top_p={self.top_p}); or set do_sample=false")

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> CSLMGenerationOptions:
        """Build from ``--model-arg`` strings; keys that are not generation options are left to the caller."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in args:
                continue
            kind = {"bool": bool, "int": int, "float": float}.get(str(f.type), str)
            values[f.name] = convert("cslm", f.name, args[f.name], kind)
        return cls(**values)

    def sample_seed(self, prompt_ids) -> int:
        """Seed for one request: the base seed and the prompt's token ids, so reruns, batches and data-parallel
        shards draw the same sample for the same input."""
        import numpy as np

        digest = hashlib.sha256(str(self.seed).encode() + np.asarray(prompt_ids, dtype=np.int64).tobytes())
        return int(digest.hexdigest()[:8], 16)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


GENERATION_KEYS = frozenset(f.name for f in fields(CSLMGenerationOptions))
