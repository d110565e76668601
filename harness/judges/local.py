"""A local LLM judge: a transformers causal LM from a folder (no remote code) and its chat template.

It samples with the judge settings (the prompt's protocol unless overridden: VoiceBench's n=3, temperature 0.5,
top_p 0.95), seeding each request from the run's seed and the prompt text, so a rerun draws the same replies;
temperature 0 decodes greedily (one answer, repeated n times). Requests run one at a time (one model in
memory); a reply that holds no score is counted as ``judge_malformed`` like any other judge's.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from harness.devices import resolve_device
from harness.judges.base import JudgeSettings, LLMJudge
from harness.options import ConfigError

DTYPES = ("float32", "bfloat16", "float16")


def folder_revision(folder: Path) -> str:
    """sha256 over the folder's config/tokenizer files (content) and weight files (name and size)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        digest.update(f"{path.name}\0{path.stat().st_size}\0".encode())
        if path.suffix in (".json", ".txt", ".model", ".jinja"):
            digest.update(path.read_bytes())
    return "sha256:" + digest.hexdigest()[:16]


class TransformersJudge(LLMJudge):
    backend = "transformers"
    concurrency = 1

    def __init__(self, path: str, device: str = "auto", dtype: str = "float32"):
        super().__init__()
        self.path = Path(path).expanduser()
        if not (self.path / "config.json").is_file():
            raise ConfigError(f"local LLM judge: {self.path} is not a transformers model folder (no config.json); "
                              f"pass --llm-judge hf:DIR with a downloaded instruct model")
        if dtype not in DTYPES:
            raise ConfigError(f"local LLM judge: dtype {dtype!r} is not one of {DTYPES}")
        try:  # auto: this rank's GPU under torchrun/accelerate, else the CPU
            self.device = resolve_device(device)
        except ValueError as exc:
            raise ConfigError(f"local LLM judge: {exc}") from None
        self.dtype = dtype
        self._revision = folder_revision(self.path)

    def describe(self) -> dict[str, Any]:
        return {"id": f"hf:{self.path.name}", "backend": self.backend, "path": str(self.path),
                "revision": self._revision, "dtype": self.dtype,
                "device": self.device.split(":")[0]}  # the kind only: describe() keys caches all ranks share

    def load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        if not getattr(self.tokenizer, "chat_template", None):
            raise ConfigError(f"local LLM judge {self.path} has no chat template; use an instruct/chat model")
        self.model = AutoModelForCausalLM.from_pretrained(self.path, dtype=getattr(torch, self.dtype))
        self.model.to(self.device).eval()

    def complete(self, messages: list[dict[str, str]], settings: JudgeSettings) -> list[str]:
        import torch

        self.ensure_loaded()
        self._count("requests")
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        # The template writes the BOS itself, so the tokenizer must not add another.
        inputs = self.tokenizer(text, return_tensors="pt", add_special_tokens=False).to(self.device)
        sample = settings.temperature > 0
        # Greedy decoding gives one answer; its n replies are that answer n times.
        kwargs: dict[str, Any] = {"max_new_tokens": settings.max_tokens, "do_sample": sample,
                                  "num_return_sequences": settings.n if sample else 1}
        if sample:
            kwargs.update(temperature=settings.temperature, top_p=settings.top_p or 1.0)
            seed = hashlib.sha256(f"{settings.seed}\0{text}".encode()).hexdigest()[:8]
            torch.manual_seed(int(seed, 16))  # per request: the same prompt draws the same replies
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        with torch.inference_mode():
            out = self.model.generate(**inputs, pad_token_id=pad, **kwargs)
        prompt_len = inputs["input_ids"].shape[1]
        replies = [self.tokenizer.decode(row[prompt_len:], skip_special_tokens=True) for row in out]
        return replies if sample else replies * settings.n
