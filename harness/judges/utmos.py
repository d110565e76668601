"""UTMOS22 "strong learner" (Saeki et al., Interspeech 2022): the naturalness MOS predictor TTS/S2S papers report.

Weights: SpeechMOS's release of the official checkpoint (tarepan/SpeechMOS, ``utmos22_strong_step7459_v1.pt``,
MIT, derived from sarulab-speech/UTMOS22's ``epoch=3-step=7459.ckpt``), a plain state dict read here with
``weights_only=True``; nothing is downloaded at run time. Give ``path=`` (the .pt, or a folder holding it); without
it the judge looks where ``torch.hub.load("tarepan/SpeechMOS:v1.2.0", "utmos22_strong")`` caches it
(``<torch hub dir>/checkpoints/``).

The network, as SpeechMOS's ``UTMOS22Strong`` defines it (read from github:tarepan/SpeechMOS,
speechmos/utmos22/strong/model.py and fairseq_alt.py):
- ``wav2vec2.*``: a fairseq wav2vec 2.0 base (group-norm conv feature encoder without conv bias, 512 channels,
  kernels 10,3,3,3,3,2,2 / strides 5,2,2,2,2,2,2; LayerNorm + 512->768 projection; weight-normed positional conv,
  kernel 128, 16 groups; 12 post-LN transformer layers, 12 heads, FFN 3072, GELU) -> frame features;
- ``domain_emb`` (1, 128) and ``judge_emb`` (1, 128), broadcast over frames and concatenated to the features;
- ``blstm``: a 1-layer bidirectional LSTM (hidden 512); ``projection``: Linear(1024, 2048), ReLU, Linear(2048, 1);
- utterance score = mean over frames of the projection, times 2, plus 3. Input: 16 kHz waveform (SpeechMOS
  resamples with torchaudio; the harness resamples with soxr before calling).
The wav2vec 2.0 part is transformers' ``Wav2Vec2Model`` (same computation, post-LN, group-norm extractor): this
module maps the fairseq names onto it. Sizes are read from the state dict, so a small checkpoint with the same
layout (the tests build one) loads through the same code.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.judges.quality import QualityJudge, QualityMetric
from harness.model import ModelConfigError

CHECKPOINT = "utmos22_strong_step7459_v1.pt"
DOWNLOAD = f"https://github.com/tarepan/SpeechMOS/releases/download/v1.0.0/{CHECKPOINT}"
CONV_STRIDES = (5, 2, 2, 2, 2, 2, 2)  # wav2vec 2.0's feature encoder (fixed by the architecture)


def torch_hub_checkpoint() -> Path:
    """Where torch.hub.load_state_dict_from_url puts the checkpoint ($TORCH_HOME/hub/checkpoints)."""
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "torch")
    return Path(home) / "hub" / "checkpoints" / CHECKPOINT


def _rename(key: str) -> str | None:
    """A fairseq-layout key of SpeechMOS's wav2vec2 -> transformers' Wav2Vec2Model key (None: not wav2vec2's)."""
    if not key.startswith("wav2vec2."):
        return None
    k = key[len("wav2vec2."):]
    rules = ((r"^feature_extractor\.conv_layers\.(\d+)\.0\.weight$", r"feature_extractor.conv_layers.\1.conv.weight"),
             (r"^feature_extractor\.conv_layers\.0\.2\.(weight|bias)$", r"feature_extractor.conv_layers.0.layer_norm.\1"),
             (r"^layer_norm\.(weight|bias)$", r"feature_projection.layer_norm.\1"),
             (r"^post_extract_proj\.(weight|bias)$", r"feature_projection.projection.\1"),
             (r"^mask_emb$", "masked_spec_embed"),
             (r"^encoder\.pos_conv\.0\.bias$", "encoder.pos_conv_embed.conv.bias"),
             (r"^encoder\.pos_conv\.0\.weight_g$", "encoder.pos_conv_embed.conv.parametrizations.weight.original0"),
             (r"^encoder\.pos_conv\.0\.weight_v$", "encoder.pos_conv_embed.conv.parametrizations.weight.original1"),
             (r"^encoder\.pos_conv\.0\.parametrizations\.weight\.(original[01])$",
              r"encoder.pos_conv_embed.conv.parametrizations.weight.\1"),
             (r"^encoder\.layer_norm\.(weight|bias)$", r"encoder.layer_norm.\1"),
             (r"^encoder\.layers\.(\d+)\.self_attn\.(q|k|v|out)_proj\.(weight|bias)$",
              r"encoder.layers.\1.attention.\2_proj.\3"),
             (r"^encoder\.layers\.(\d+)\.self_attn_layer_norm\.(weight|bias)$", r"encoder.layers.\1.layer_norm.\2"),
             (r"^encoder\.layers\.(\d+)\.fc1\.(weight|bias)$", r"encoder.layers.\1.feed_forward.intermediate_dense.\2"),
             (r"^encoder\.layers\.(\d+)\.fc2\.(weight|bias)$", r"encoder.layers.\1.feed_forward.output_dense.\2"),
             (r"^encoder\.layers\.(\d+)\.final_layer_norm\.(weight|bias)$", r"encoder.layers.\1.final_layer_norm.\2"))
    for pattern, repl in rules:
        if re.match(pattern, k):
            return re.sub(pattern, repl, k)
    raise ModelConfigError(f"UTMOS checkpoint: unexpected key {key!r} (not SpeechMOS's UTMOS22Strong layout)")


def wav2vec2_config(state: dict[str, Any]):
    """A transformers Wav2Vec2Config with the sizes the state dict's shapes say."""
    from transformers import Wav2Vec2Config

    convs = sorted((int(m.group(1)), v) for k, v in state.items()
                   if (m := re.match(r"^wav2vec2\.feature_extractor\.conv_layers\.(\d+)\.0\.weight$", k)))
    layers = {int(m.group(1)) for k in state if (m := re.match(r"^wav2vec2\.encoder\.layers\.(\d+)\.", k))}
    if len(convs) != len(CONV_STRIDES) or not layers:
        raise ModelConfigError(f"UTMOS checkpoint: {len(convs)} conv layers and {len(layers)} transformer layers; "
                               f"expected {len(CONV_STRIDES)} conv layers (SpeechMOS's UTMOS22Strong layout)")
    hidden = state["wav2vec2.post_extract_proj.weight"].shape[0]
    pos_v = state.get("wav2vec2.encoder.pos_conv.0.weight_v",
                      state.get("wav2vec2.encoder.pos_conv.0.parametrizations.weight.original1"))
    return Wav2Vec2Config(
        hidden_size=hidden, num_hidden_layers=len(layers), num_attention_heads=max(1, hidden // 64),
        intermediate_size=state["wav2vec2.encoder.layers.0.fc1.weight"].shape[0],
        conv_dim=tuple(w.shape[0] for _, w in convs), conv_kernel=tuple(w.shape[2] for _, w in convs),
        conv_stride=CONV_STRIDES, conv_bias=False, feat_extract_norm="group", feat_extract_activation="gelu",
        do_stable_layer_norm=False, num_conv_pos_embeddings=pos_v.shape[2],
        num_conv_pos_embedding_groups=hidden // pos_v.shape[1], hidden_act="gelu", layer_norm_eps=1e-5)


def build_utmos(state: dict[str, Any]):
    """The UTMOS22 strong network with ``state`` loaded (strict: every tensor used, none missing)."""
    import torch
    from torch import nn
    from transformers import Wav2Vec2Model

    class UTMOSStrong(nn.Module):
        def __init__(self):
            super().__init__()
            self.wav2vec2 = Wav2Vec2Model(wav2vec2_config(state))
            self.domain_emb = nn.Parameter(torch.zeros_like(state["domain_emb"]), requires_grad=False)
            self.judge_emb = nn.Parameter(torch.zeros_like(state["judge_emb"]), requires_grad=False)
            rnn_h = state["blstm.weight_hh_l0"].shape[1]
            self.blstm = nn.LSTM(state["blstm.weight_ih_l0"].shape[1], rnn_h, batch_first=True, bidirectional=True)
            proj_h = state["projection.0.weight"].shape[0]
            self.projection = nn.Sequential(nn.Linear(2 * rnn_h, proj_h), nn.ReLU(), nn.Linear(proj_h, 1))

        def forward(self, wave: torch.Tensor) -> torch.Tensor:  # (B, T) at 16 kHz -> (B,)
            feats = self.wav2vec2(wave).last_hidden_state
            bsz, frames, _ = feats.shape
            cat = torch.cat([feats, self.domain_emb.expand(bsz, frames, -1), self.judge_emb.expand(bsz, frames, -1)],
                            dim=2)
            return self.projection(self.blstm(cat)[0]).mean(dim=1).squeeze(1) * 2 + 3

    model = UTMOSStrong()
    mapped: dict[str, Any] = {}
    for key, value in state.items():
        new = _rename(key)
        mapped[key if new is None else f"wav2vec2.{new}"] = value
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    if missing or unexpected:
        raise ModelConfigError(f"UTMOS checkpoint does not fit UTMOS22Strong: missing {missing[:5]}, "
                               f"unexpected {unexpected[:5]}")
    return model.eval()


class UTMOSJudge(QualityJudge):
    metrics: ClassVar = (QualityMetric("utmos", (1.0, 5.0), 1.0),)
    sample_rate: ClassVar[int] = 16000
    package: ClassVar[str] = "transformers"   # the wav2vec 2.0 implementation; the weights are hashed
    options_accepted: ClassVar[tuple[str, ...]] = ("path",)

    def __init__(self, name: str, device: str = "auto", path: str | None = None, **options: Any):
        super().__init__(name, device, **options)
        self.path = path

    def weights(self) -> list[Path]:
        if not self.path:
            return [torch_hub_checkpoint()]
        path = Path(self.path).expanduser()
        return [path / CHECKPOINT if path.is_dir() else path]

    def check(self) -> None:
        weights = self.weights()[0]
        if not weights.is_file():
            where = f"path={self.path}" if self.path else f"the torch hub cache ({weights})"
            raise ModelConfigError(
                f"quality judge {self.name}: no UTMOS22 strong checkpoint at {where}. Download {DOWNLOAD} "
                f"(SpeechMOS's release of the official UTMOS22 checkpoint) and pass --quality-judge "
                f"{self.name}:path=FILE_OR_DIR, or mark the judge optional in the task YAML")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "network": "UTMOS22Strong (SpeechMOS layout)", "resampler": "soxr"}

    def _load(self) -> Any:
        import torch

        state = torch.load(self.weights()[0], map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state and "domain_emb" not in state:
            raise ModelConfigError(f"{self.weights()[0]} is a Lightning checkpoint (UTMOS22's own training format); "
                                   f"use SpeechMOS's converted {CHECKPOINT} ({DOWNLOAD})")
        return build_utmos(state).to(self.device)

    def _score(self, samples: np.ndarray, reference: np.ndarray | None) -> dict[str, float]:
        import torch

        with torch.inference_mode():
            return {"utmos": float(self._model(torch.from_numpy(samples)[None].to(self.device))[0])}
