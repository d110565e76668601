"""Speech-quality judges on their own: real MOS predictors on real speech, and the UTMOS / WavLM-SV loaders on
small checkpoints of the real formats built here (the real weights are not installable offline)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from harness.judges.quality import QUALITY_JUDGES, build_quality_judge
from harness.model import ModelConfigError

SENTENCE = "Please bring a warm jacket because the weather will turn cold tonight, and do not forget your gloves."
SECONDS = 4.6  # DNSMOS repeats a clip to 9.01 s and slides 1 s hops: 2 x 4.6 s is one window (fast on 2 cores)


@pytest.fixture(scope="module")
def piper_16k():
    """One Piper sentence (deterministic) at 16 kHz, and the same with white noise at 10 dB SNR."""
    import soxr

    from harness.registry import MODELS

    tts = MODELS.get("piper-en_US-joe-medium")(name="piper-en_US-joe-medium", noise_scale="0", noise_w_scale="0")
    audio = tts.synthesize([SENTENCE], "en")[0]
    clean = soxr.resample(audio.samples, audio.sample_rate, 16000).astype(np.float32)[: int(SECONDS * 16000)]
    noise = np.random.default_rng(0).normal(0, np.sqrt(np.mean(clean ** 2) / 10), clean.shape)
    return clean, np.clip(clean + noise, -1, 1).astype(np.float32)


def test_listing_quality_judges_imports_no_torch():
    code = ("import sys; from harness.cli import main; main(['list', 'quality_judges']); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert {"dnsmos", "distillmos", "utmos", "sim", "sim-resemblyzer"} <= set(QUALITY_JUDGES.names())
    assert "dnsmos" in out.stdout and "UTMOS22" in out.stdout


def test_unknown_judge_and_unknown_option_fail_with_the_list():
    with pytest.raises(ModelConfigError, match="Did you mean: dnsmos"):
        build_quality_judge("dnsmoss", {})
    with pytest.raises(ModelConfigError, match="unknown option.*color"):
        build_quality_judge("dnsmos", {"color": "red"})


@pytest.mark.parametrize("name,metrics", [("dnsmos", ("dnsmos_ovrl", "dnsmos_p808", "dnsmos_bak")),
                                          ("distillmos", ("distillmos",))])
def test_mos_predictors_rank_clean_speech_above_noisy(piper_16k, name, metrics):
    clean, noisy = piper_16k
    judge = build_quality_judge(name, {"device": "cpu"})
    good, bad = judge.score(clean), judge.score(noisy)
    for metric in metrics:
        assert 1.0 <= bad[metric] < good[metric] <= 5.0 and good[metric] - bad[metric] > 0.5, (metric, good, bad)
    desc = judge.describe()
    assert desc["version"] and desc["weights_sha256"].startswith("sha256:") and desc["device"] == "cpu"


def test_resemblyzer_similarity_same_voice_above_other_signal(piper_16k, tmp_path):
    from harness.registry import MODELS

    clean, _ = piper_16k
    tts = MODELS.get("piper-en_US-joe-medium")(name="piper-en_US-joe-medium", noise_scale="0", noise_w_scale="0")
    other = tts.synthesize(["The library opens at nine in the morning."], "en")[0]
    import soxr

    other = soxr.resample(other.samples, other.sample_rate, 16000).astype(np.float32)
    judge = build_quality_judge("sim-resemblyzer", {"device": "cpu"})
    same = judge.score(clean, other)["sim_resemblyzer"]
    # The same sentence an octave-ish lower (played slower): another "voice" built from the same audio.
    lower = soxr.resample(clean, 16000, 26000).astype(np.float32)
    shifted = judge.score(lower, other)["sim_resemblyzer"]
    assert same > 0.75 and same > shifted + 0.05, (same, shifted)
    assert judge.describe()["weights"] == ["pretrained.pt"]


# ---- UTMOS: SpeechMOS's UTMOS22Strong state-dict layout, small sizes --------------------------------------------
STRIDES = (5, 2, 2, 2, 2, 2, 2)
KERNELS = (10, 3, 3, 3, 3, 2, 2)


def tiny_utmos_state(seed: int = 0, conv: int = 16, hidden: int = 64, layers: int = 2, ffn: int = 128,
                     emb: int = 8, rnn: int = 16, proj: int = 32) -> dict:
    """Random tensors under exactly the names (and shape roles) of utmos22_strong_step7459_v1.pt."""
    import torch

    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, scale=0.1, base=0.0):
        return base + scale * torch.randn(*shape, generator=g)

    s = {}
    for i, k in enumerate(KERNELS):
        s[f"wav2vec2.feature_extractor.conv_layers.{i}.0.weight"] = rnd(conv, 1 if i == 0 else conv, k, scale=0.3)
    s["wav2vec2.feature_extractor.conv_layers.0.2.weight"] = rnd(conv, base=1.0)
    s["wav2vec2.feature_extractor.conv_layers.0.2.bias"] = rnd(conv)
    s["wav2vec2.layer_norm.weight"], s["wav2vec2.layer_norm.bias"] = rnd(conv, base=1.0), rnd(conv)
    s["wav2vec2.post_extract_proj.weight"], s["wav2vec2.post_extract_proj.bias"] = rnd(hidden, conv), rnd(hidden)
    s["wav2vec2.mask_emb"] = rnd(hidden)
    s["wav2vec2.encoder.pos_conv.0.bias"] = rnd(hidden)
    s["wav2vec2.encoder.pos_conv.0.weight_g"] = rnd(1, 1, 128, base=0.5)
    s["wav2vec2.encoder.pos_conv.0.weight_v"] = rnd(hidden, hidden // 16, 128)
    s["wav2vec2.encoder.layer_norm.weight"], s["wav2vec2.encoder.layer_norm.bias"] = rnd(hidden, base=1.0), rnd(hidden)
    for i in range(layers):
        p = f"wav2vec2.encoder.layers.{i}."
        for n in ("q", "k", "v", "out"):
            s[p + f"self_attn.{n}_proj.weight"], s[p + f"self_attn.{n}_proj.bias"] = rnd(hidden, hidden), rnd(hidden)
        s[p + "self_attn_layer_norm.weight"], s[p + "self_attn_layer_norm.bias"] = rnd(hidden, base=1.0), rnd(hidden)
        s[p + "fc1.weight"], s[p + "fc1.bias"] = rnd(ffn, hidden), rnd(ffn)
        s[p + "fc2.weight"], s[p + "fc2.bias"] = rnd(hidden, ffn), rnd(hidden)
        s[p + "final_layer_norm.weight"], s[p + "final_layer_norm.bias"] = rnd(hidden, base=1.0), rnd(hidden)
    s["domain_emb"], s["judge_emb"] = rnd(1, emb), rnd(1, emb)
    for suffix in ("", "_reverse"):
        s[f"blstm.weight_ih_l0{suffix}"] = rnd(4 * rnn, hidden + 2 * emb)
        s[f"blstm.weight_hh_l0{suffix}"] = rnd(4 * rnn, rnn)
        s[f"blstm.bias_ih_l0{suffix}"], s[f"blstm.bias_hh_l0{suffix}"] = rnd(4 * rnn), rnd(4 * rnn)
    s["projection.0.weight"], s["projection.0.bias"] = rnd(proj, 2 * rnn), rnd(proj)
    s["projection.2.weight"], s["projection.2.bias"] = rnd(1, proj), rnd(1)
    return s


def fairseq_reference(s: dict, wave, heads: int):
    """UTMOS22 strong's forward written out from its description (fairseq wav2vec 2.0, post-LN; BLSTM head),
    with torch functional ops only: an independent check of the judge's name mapping onto transformers."""
    import torch
    import torch.nn.functional as F

    x = wave[:, None]
    for i, stride in enumerate(STRIDES):
        x = F.conv1d(x, s[f"wav2vec2.feature_extractor.conv_layers.{i}.0.weight"], stride=stride)
        if i == 0:
            x = F.group_norm(x, x.shape[1], s["wav2vec2.feature_extractor.conv_layers.0.2.weight"],
                             s["wav2vec2.feature_extractor.conv_layers.0.2.bias"])
        x = F.gelu(x)
    x = x.transpose(1, 2)
    x = F.layer_norm(x, x.shape[-1:], s["wav2vec2.layer_norm.weight"], s["wav2vec2.layer_norm.bias"])
    x = F.linear(x, s["wav2vec2.post_extract_proj.weight"], s["wav2vec2.post_extract_proj.bias"])
    v, g = s["wav2vec2.encoder.pos_conv.0.weight_v"], s["wav2vec2.encoder.pos_conv.0.weight_g"]
    w = g * v / v.norm(dim=(0, 1), keepdim=True)
    groups = x.shape[-1] // v.shape[1]
    pos = F.conv1d(x.transpose(1, 2), w, s["wav2vec2.encoder.pos_conv.0.bias"], padding=64, groups=groups)
    x = x + F.gelu(pos[:, :, :-1]).transpose(1, 2)
    hid = x.shape[-1]
    x = F.layer_norm(x, (hid,), s["wav2vec2.encoder.layer_norm.weight"], s["wav2vec2.encoder.layer_norm.bias"])
    i = 0
    while f"wav2vec2.encoder.layers.{i}.fc1.weight" in s:
        p = f"wav2vec2.encoder.layers.{i}."

        def lin(name, t, p=p):
            return F.linear(t, s[p + name + ".weight"], s[p + name + ".bias"])

        def split(t):
            return t.view(t.shape[0], t.shape[1], heads, hid // heads).transpose(1, 2)

        q, k, vv = split(lin("self_attn.q_proj", x)), split(lin("self_attn.k_proj", x)), split(lin("self_attn.v_proj", x))
        att = torch.softmax(q @ k.transpose(-1, -2) / (hid // heads) ** 0.5, dim=-1) @ vv
        x = x + lin("self_attn.out_proj", att.transpose(1, 2).reshape(x.shape))
        x = F.layer_norm(x, (hid,), s[p + "self_attn_layer_norm.weight"], s[p + "self_attn_layer_norm.bias"])
        x = x + lin("fc2", F.gelu(lin("fc1", x)))
        x = F.layer_norm(x, (hid,), s[p + "final_layer_norm.weight"], s[p + "final_layer_norm.bias"])
        i += 1
    frames = x.shape[1]
    cat = torch.cat([x, s["domain_emb"][None].expand(1, frames, -1), s["judge_emb"][None].expand(1, frames, -1)], 2)
    rnn = s["blstm.weight_hh_l0"].shape[1]
    lstm = torch.nn.LSTM(cat.shape[-1], rnn, batch_first=True, bidirectional=True)
    lstm.load_state_dict({k[len("blstm."):]: t for k, t in s.items() if k.startswith("blstm.")})
    h = lstm(cat)[0]
    h = F.linear(F.relu(F.linear(h, s["projection.0.weight"], s["projection.0.bias"])),
                 s["projection.2.weight"], s["projection.2.bias"])
    return float(h.mean(dim=1).squeeze() * 2 + 3)


def test_utmos_loads_the_speechmos_layout_and_matches_the_reference_forward(tmp_path):
    import torch

    state = tiny_utmos_state()
    torch.save(state, tmp_path / "utmos22_strong_step7459_v1.pt")
    judge = build_quality_judge("utmos", {"path": str(tmp_path), "device": "cpu"})  # a folder holding the file
    wave = (0.1 * np.sin(np.arange(16000) * 0.05) + 0.01 * np.random.default_rng(1).normal(size=16000))
    score = judge.score(wave.astype(np.float32))["utmos"]
    with torch.inference_mode():
        expected = fairseq_reference(state, torch.from_numpy(wave.astype(np.float32))[None], heads=1)
    assert score == pytest.approx(expected, abs=1e-4)
    desc = judge.describe()
    assert desc["weights"] == ["utmos22_strong_step7459_v1.pt"] and desc["weights_sha256"].startswith("sha256:")
    # A checkpoint of another layout is refused with the reason, not loaded half-way.
    bad = dict(state)
    bad["wav2vec2.encoder.extra.weight"] = torch.zeros(1)
    torch.save(bad, tmp_path / "bad.pt")
    with pytest.raises(ModelConfigError, match="unexpected key"):
        build_quality_judge("utmos", {"path": str(tmp_path / "bad.pt")}).ensure_loaded()


def test_utmos_without_weights_names_the_download(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(ModelConfigError, match="releases/download/v1.0.0/utmos22_strong_step7459_v1.pt"):
        build_quality_judge("utmos", {}).check()


# ---- WavLM-base-plus-sv: a tiny WavLMForXVector saved with save_pretrained ---------------------------------------
@pytest.fixture(scope="module")
def tiny_wavlm_sv(tmp_path_factory):
    import torch
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMForXVector

    torch.manual_seed(0)
    config = WavLMConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                         conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                         tdnn_dim=(16, 16, 16, 16, 32), xvector_output_dim=16, num_buckets=32, max_bucket_distance=64)
    folder = tmp_path_factory.mktemp("wavlm-sv")
    WavLMForXVector(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, do_normalize=False,
                             return_attention_mask=True).save_pretrained(folder)
    return folder


def test_wavlm_similarity_loads_a_save_pretrained_folder(tiny_wavlm_sv):
    rng = np.random.default_rng(0)
    a = (0.1 * np.sin(np.arange(16000) * 0.03)).astype(np.float32)
    b = (0.1 * rng.normal(size=16000)).astype(np.float32)
    judge = build_quality_judge("sim", {"path": str(tiny_wavlm_sv), "device": "cpu"})
    assert judge.score(a, a)["sim_wavlm"] == pytest.approx(1.0, abs=1e-5)
    assert judge.score(a, b)["sim_wavlm"] < 0.999
    desc = judge.describe()
    assert desc["weights"] == ["model.safetensors"] and desc["device"] == "cpu" and desc["reference"] == "per sample"


def test_wavlm_similarity_missing_model_is_a_configuration_error(tmp_path, monkeypatch):
    with pytest.raises(ModelConfigError, match="no config.json"):
        build_quality_judge("sim", {"path": str(tmp_path)}).check()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelConfigError, match="huggingface-cli download microsoft/wavlm-base-plus-sv"):
        build_quality_judge("sim", {}).check()
