"""Generation options of the CSLM adapter: frozen, commented, written into every results file.

Every field is overridable with ``--model-arg key=value`` (strings, converted here, checked in one place).
Three defaults depend on the effective ``prompt_mode`` (an explicit value, else the checkpoint's
``cslm_harness.json``, else ``released``); explicit values always win:

================  =====================================  ==========================================
option            prompt_mode=released                   prompt_mode=generation-prompt
================  =====================================  ==========================================
max_new_tokens    4096 (what decode_general.py runs)      2048
dtype (auto)      float16 on GPU; float32 on CPU          bfloat16 on GPU (float16 without bf16);
                  (requested float16 is recorded)         float32 on CPU
eoa_cut           true (text cut at the first ``<eoa>``)  false (training/ never writes ``<eoa>``)
================  =====================================  ==========================================
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
EOA = "<eoa>"  # released end-of-answer marker: decode_general.py keeps only what precedes it

# Defaults that follow prompt_mode (fields left at None take these).
MODE_DEFAULTS: dict[str, dict[str, Any]] = {
    # ictnlp/CSLM cslm/infer/decode_general.py: argparse parses --max-new-tokens 2048 but never passes it to
    # LLMInference, whose own default max_new_tokens=4096 is what runs; weights torch.float16 + .half();
    # postprocess keeps the decoded text up to the first "<eoa>".
    "released": {"max_new_tokens": 4096, "eoa_cut": True},
    # Checkpoints trained by training/ (they write prompt_mode=generation-prompt into cslm_harness.json).
    "generation-prompt": {"max_new_tokens": 2048, "eoa_cut": False},
}
# What dtype=auto asks for, per mode ("auto": the best half precision of the GPU).
MODE_DTYPE = {"released": "float16", "generation-prompt": "auto"}


@dataclass(frozen=True)
class CSLMGenerationOptions:
    temperature: float = 1.0        # released decode_general.py sampling temperature
    top_p: float = 0.7              # released nucleus threshold
    # The released GenerationConfig leaves top_k unset, so transformers' default (50) filters too; 0 disables.
    top_k: int = 50
    # None: the prompt_mode's default (MODE_DEFAULTS): released 4096 (LLMInference's default, which is what
    # the released script runs: its --max-new-tokens 2048 is parsed and never passed), generation-prompt 2048.
    max_new_tokens: int | None = None
    do_sample: bool = True          # released: sampling; False = greedy (temperature/top_p then unused)
    seed: int = 0                   # base seed; each request draws from seed + hash(prompt ids): order-free
    prompt_mode: str = "released"   # "released": byte-for-byte released prompt; "generation-prompt": standard
    decoding: str = "general"       # respond(): "general" (answer in the input language) or "cross" (out_lang)
    chain: str = "interleaved"      # expected output layout: "interleaved" CoM or "full" CoM (parsing/latency)
    # Weights dtype. "auto" follows prompt_mode (MODE_DTYPE): released requests float16 (as released), run in
    # float16 on GPU and float32 on CPU (float16 runs on CPU too, about 4x slower; pass dtype=float16 to force
    # it); generation-prompt: bfloat16 on GPU (float16 without bf16), float32 on CPU. An explicit dtype is used
    # as given, on any device.
    dtype: str = "auto"
    max_input_tokens: int = 4096    # released LLMInference max_len_input: longer prompts are cut (as released)
    merge_input_units: bool = True  # merge repeated input units before the LLM (how CSLM was trained)
    # Cut the generation at the first "<eoa>" before splitting channels (released postprocess: everything
    # after it is dropped). None: the prompt_mode's default (released true, generation-prompt false).
    eoa_cut: bool | None = None

    def __post_init__(self) -> None:
        checks = [("prompt_mode", PROMPT_MODES), ("decoding", DECODINGS), ("chain", CHAINS), ("dtype", DTYPES)]
        for name, allowed in checks:
            if getattr(self, name) not in allowed:
                raise ModelConfigError(f"{name}={getattr(self, name)!r}: choose one of {', '.join(allowed)}")
        for name, value in MODE_DEFAULTS[self.prompt_mode].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)  # frozen: resolved once, here
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
            base = str(f.type).split(" | ")[0]
            kind = {"bool": bool, "int": int, "float": float}.get(base, str)
            values[f.name] = convert("cslm", f.name, args[f.name], kind)
        return cls(**values)

    def requested_dtype(self) -> str:
        """The dtype asked for: an explicit one, else the prompt_mode's (float16 for released)."""
        return self.dtype if self.dtype != "auto" else MODE_DTYPE[self.prompt_mode]

    def resolve_dtype(self, device: str, bf16_supported: bool = False) -> tuple[str, str | None]:
        """(dtype the weights load in, note when it differs from the requested one) on ``device``."""
        requested = self.requested_dtype()
        on_gpu = device.startswith("cuda")
        if self.dtype != "auto":
            return self.dtype, None
        if not on_gpu:
            note = "float16 requested (as released); CPU runs float32" if requested == "float16" else None
            return "float32", note
        if requested == "auto":
            return ("bfloat16" if bf16_supported else "float16"), None
        return requested, None

    def cut_at_eoa(self, raw: str) -> str:
        """The generation up to the first ``<eoa>`` when eoa_cut is on (as decode_general.py's postprocess)."""
        return raw.split(EOA, 1)[0] if self.eoa_cut else raw

    def sample_seed(self, prompt_ids) -> int:
        """Seed for one request: the base seed and the prompt's token ids, so reruns, batches and data-parallel
        shards draw the same sample for the same input."""
        import numpy as np

        digest = hashlib.sha256(str(self.seed).encode() + np.asarray(prompt_ids, dtype=np.int64).tobytes())
        return int(digest.hexdigest()[:8], 16)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


GENERATION_KEYS = frozenset(f.name for f in fields(CSLMGenerationOptions))
