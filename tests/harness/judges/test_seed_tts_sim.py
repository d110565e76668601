"""sim-seed-tts-eval: seed-tts-eval's speaker similarity (WavLM-Large SV + ECAPA-TDNN) from the user's checkpoint.

The real wavlm_large_finetune.pth (1.2 GB, Google Drive) is not installable here, so the tests write a tiny random
checkpoint under the ORIGINAL key names (UniSpeech's ECAPA_TDNN over s3prl's WavLM, listed below by hand, not
derived from our module) and load it through the judge: the key mapping, the size reading and the scoring all run.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from harness.judges.quality import QUALITY_JUDGES, build_quality_judge
from harness.model import ModelConfigError

HIDDEN, LAYERS, HEADS, FFN, CONV, BUCKETS = 32, 2, 2, 64, 16, 32
POS_K, POS_GROUPS = 16, 4
CH, SCALE, SE, AGG, ATT, EMB = 16, 8, 8, 48, 8, 12
KERNELS = (10, 3, 3, 3, 3, 2, 2)


def tiny_state(seed: int = 0) -> dict:
    """Random tensors under the names of wavlm_large_finetune.pth's ``model`` entry, at small sizes."""
    import torch

    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, scale=0.2, base=0.0):
        return base + scale * torch.randn(*shape, generator=g)

    s, up = {}, "feature_extract.model."
    for i, k in enumerate(KERNELS):
        s[f"{up}feature_extractor.conv_layers.{i}.0.weight"] = rnd(CONV, 1 if i == 0 else CONV, k, scale=0.4)
        s[f"{up}feature_extractor.conv_layers.{i}.2.1.weight"] = rnd(CONV, base=1.0)
        s[f"{up}feature_extractor.conv_layers.{i}.2.1.bias"] = rnd(CONV)
    s[f"{up}layer_norm.weight"], s[f"{up}layer_norm.bias"] = rnd(CONV, base=1.0), rnd(CONV)
    s[f"{up}post_extract_proj.weight"], s[f"{up}post_extract_proj.bias"] = rnd(HIDDEN, CONV), rnd(HIDDEN)
    s[f"{up}mask_emb"] = rnd(HIDDEN)
    s[f"{up}encoder.pos_conv.0.bias"] = rnd(HIDDEN)
    s[f"{up}encoder.pos_conv.0.weight_g"] = rnd(1, 1, POS_K, base=0.5)
    s[f"{up}encoder.pos_conv.0.weight_v"] = rnd(HIDDEN, HIDDEN // POS_GROUPS, POS_K)
    s[f"{up}encoder.layer_norm.weight"], s[f"{up}encoder.layer_norm.bias"] = rnd(HIDDEN, base=1.0), rnd(HIDDEN)
    for i in range(LAYERS):
        p = f"{up}encoder.layers.{i}."
        for n in ("q", "k", "v", "out"):
            s[p + f"self_attn.{n}_proj.weight"], s[p + f"self_attn.{n}_proj.bias"] = rnd(HIDDEN, HIDDEN), rnd(HIDDEN)
        if i == 0:  # only the first layer holds the relative position embedding
            s[p + "self_attn.relative_attention_bias.weight"] = rnd(BUCKETS, HEADS)
        s[p + "self_attn.grep_linear.weight"], s[p + "self_attn.grep_linear.bias"] = rnd(8, HIDDEN // HEADS), rnd(8)
        s[p + "self_attn.grep_a"] = rnd(1, HEADS, 1, 1, base=1.0)
        s[p + "self_attn_layer_norm.weight"], s[p + "self_attn_layer_norm.bias"] = rnd(HIDDEN, base=1.0), rnd(HIDDEN)
        s[p + "fc1.weight"], s[p + "fc1.bias"] = rnd(FFN, HIDDEN), rnd(FFN)
        s[p + "fc2.weight"], s[p + "fc2.bias"] = rnd(HIDDEN, FFN), rnd(HIDDEN)
        s[p + "final_layer_norm.weight"], s[p + "final_layer_norm.bias"] = rnd(HIDDEN, base=1.0), rnd(HIDDEN)
    s["feature_weight"] = rnd(LAYERS + 1, scale=1.0)

    def conv_bn(prefix, cin, cout, k):
        s[prefix + "conv.weight"], s[prefix + "conv.bias"] = rnd(cout, cin, k), rnd(cout)
        bn(prefix + "bn.", cout)

    def bn(prefix, n):
        s[prefix + "weight"], s[prefix + "bias"] = rnd(n, base=1.0), rnd(n)
        s[prefix + "running_mean"], s[prefix + "running_var"] = rnd(n), 0.5 + torch.rand(n, generator=g)
        s[prefix + "num_batches_tracked"] = torch.tensor(100)

    conv_bn("layer1.", HIDDEN, CH, 5)
    for k in (2, 3, 4):
        p = f"layer{k}."
        conv_bn(p + "Conv1dReluBn1.", CH, CH, 1)
        for j in range(SCALE - 1):
            w = CH // SCALE
            s[p + f"Res2Conv1dReluBn.convs.{j}.weight"] = rnd(w, w, 3)
            s[p + f"Res2Conv1dReluBn.convs.{j}.bias"] = rnd(w)
            bn(p + f"Res2Conv1dReluBn.bns.{j}.", w)
        conv_bn(p + "Conv1dReluBn2.", CH, CH, 1)
        s[p + "SE_Connect.linear1.weight"], s[p + "SE_Connect.linear1.bias"] = rnd(SE, CH), rnd(SE)
        s[p + "SE_Connect.linear2.weight"], s[p + "SE_Connect.linear2.bias"] = rnd(CH, SE), rnd(CH)
    s["conv.weight"], s["conv.bias"] = rnd(AGG, 3 * CH, 1), rnd(AGG)
    s["pooling.linear1.weight"], s["pooling.linear1.bias"] = rnd(ATT, AGG, 1), rnd(ATT)
    s["pooling.linear2.weight"], s["pooling.linear2.bias"] = rnd(AGG, ATT, 1), rnd(AGG)
    bn("bn.", 2 * AGG)
    s["linear.weight"], s["linear.bias"] = rnd(EMB, 2 * AGG), rnd(EMB)
    s["loss_calculator.projection.weight"] = rnd(5, EMB)  # the training classifier: present in the real file
    return s


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    import torch

    path = tmp_path_factory.mktemp("seed-sv") / "wavlm_large_finetune.pth"
    torch.save({"model": tiny_state()}, path)
    return path


def signals():
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    a = (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    b = (0.1 * rng.normal(size=12000)).astype(np.float32)
    return a, b


def head_reference(s: dict, states: list, dilations=(2, 3, 4)):
    """UniSpeech's ECAPA-TDNN inference written out with torch functional ops on the checkpoint's own tensors
    (original names): an independent check of our head and of its key mapping."""
    import torch
    import torch.nn.functional as F

    def bn(x, p):
        return F.batch_norm(x, s[p + "running_mean"], s[p + "running_var"], s[p + "weight"], s[p + "bias"], False)

    def conv_relu_bn(x, p, pad=0, dil=1):
        return bn(F.relu(F.conv1d(x, s[p + "conv.weight"], s[p + "conv.bias"], padding=pad, dilation=dil)), p + "bn.")

    w = torch.softmax(s["feature_weight"], 0)
    x = sum(wi * h for wi, h in zip(w, states)).transpose(1, 2) + 1e-6
    x = F.instance_norm(x)
    out, h = [], conv_relu_bn(x, "layer1.", pad=2)
    for k, d in zip((2, 3, 4), dilations):
        p, res = f"layer{k}.", h
        y = conv_relu_bn(h, p + "Conv1dReluBn1.")
        parts, acc, sp = y.split(CH // SCALE, 1), [], None
        for j in range(SCALE - 1):
            sp = parts[j] if j == 0 else sp + parts[j]
            c = f"{p}Res2Conv1dReluBn."
            sp = bn(F.relu(F.conv1d(sp, s[c + f"convs.{j}.weight"], s[c + f"convs.{j}.bias"], padding=d, dilation=d)),
                    c + f"bns.{j}.")
            acc.append(sp)
        y = conv_relu_bn(torch.cat(acc + [parts[SCALE - 1]], 1), p + "Conv1dReluBn2.")
        z = F.relu(F.linear(y.mean(2), s[p + "SE_Connect.linear1.weight"], s[p + "SE_Connect.linear1.bias"]))
        z = torch.sigmoid(F.linear(z, s[p + "SE_Connect.linear2.weight"], s[p + "SE_Connect.linear2.bias"]))
        h = y * z.unsqueeze(2) + res
        out.append(h)
    h = F.relu(F.conv1d(torch.cat(out, 1), s["conv.weight"], s["conv.bias"]))
    a = torch.tanh(F.conv1d(h, s["pooling.linear1.weight"], s["pooling.linear1.bias"]))
    a = torch.softmax(F.conv1d(a, s["pooling.linear2.weight"], s["pooling.linear2.bias"]), dim=2)
    mean = (a * h).sum(2)
    std = torch.sqrt(((a * h ** 2).sum(2) - mean ** 2).clamp(min=1e-9))
    return F.linear(bn(torch.cat([mean, std], 1), "bn."), s["linear.weight"], s["linear.bias"])


def test_judge_loads_the_original_layout_and_scores_cosines(tiny_ckpt):
    import torch

    from harness.judges.ecapa_wavlm import load_encoder

    assert "sim-seed-tts-eval" in QUALITY_JUDGES.names()
    a, b = signals()
    judge = build_quality_judge("sim-seed-tts-eval", {"path": str(tiny_ckpt), "device": "cpu"})
    assert judge.score(a, a)["sim_seed_tts_eval"] == pytest.approx(1.0, abs=1e-6)
    ab = judge.score(a, b)["sim_seed_tts_eval"]
    assert -1.0 <= ab < 0.999
    ea1, ea2 = judge._embed(a), judge._embed(a)
    assert ea1.shape == (EMB,) and np.array_equal(ea1, ea2)  # deterministic (eval mode, no dropout)
    # The same number straight from the module (the formula seed-tts-eval uses: F.cosine_similarity).
    model = load_encoder(torch.load(tiny_ckpt, weights_only=True))
    with torch.inference_mode():
        direct = float(F_cos(model(torch.from_numpy(a)[None]), model(torch.from_numpy(b)[None])))
    assert ab == pytest.approx(direct, abs=1e-5)
    desc = judge.describe()
    sha = "sha256:" + hashlib.sha256(Path(tiny_ckpt).read_bytes()).hexdigest()
    assert desc["revision"] == desc["weights_sha256"] == sha and desc["weights"] == ["wavlm_large_finetune.pth"]
    assert desc["device"] == "cpu" and desc["reference"] == "per sample"


def F_cos(x, y):
    import torch.nn.functional as F

    return F.cosine_similarity(x, y)[0]


def test_sizes_come_from_the_checkpoint_and_the_head_matches_a_functional_reference(tiny_ckpt):
    import torch
    import torch.nn.functional as F

    from harness.judges.ecapa_wavlm import Sizes, load_encoder

    state = tiny_state()
    model = load_encoder({"model": state})
    s = model.sizes
    assert (s.hidden, s.layers, s.heads, s.ffn, s.num_buckets, s.pos_kernel, s.pos_groups) == \
        (HIDDEN, LAYERS, HEADS, FFN, BUCKETS, POS_K, POS_GROUPS)
    assert (s.channels, s.scale, s.se_dim, s.aggregate, s.attention, s.embedding) == (CH, SCALE, SE, AGG, ATT, EMB)
    assert s.conv_dim == (CONV,) * 7 and s.conv_kernel == KERNELS and s.normalize_wave
    big = Sizes()  # the real WavLM-Large / ECAPA_TDNN_SMALL values are the defaults
    assert (big.hidden, big.layers, big.heads, big.channels, big.aggregate, big.embedding) == \
        (1024, 24, 16, 512, 1536, 256)
    a, _ = signals()
    wave = torch.from_numpy(a)[None]
    with torch.inference_mode():
        normed = F.layer_norm(wave, wave.shape[-1:])  # WavLM-Large's input normalization (s3prl expert)
        states = model.hidden_states(normed)
        assert len(states) == LAYERS + 1
        # The CNN front end, on the checkpoint's own tensors: conv -> LayerNorm over channels -> GELU, 7 times.
        x, up = normed[:, None], "feature_extract.model.feature_extractor.conv_layers."
        for i, stride in enumerate((5, 2, 2, 2, 2, 2, 2)):
            x = F.conv1d(x, state[f"{up}{i}.0.weight"], stride=stride).transpose(1, 2)
            x = F.layer_norm(x, (CONV,), state[f"{up}{i}.2.1.weight"], state[f"{up}{i}.2.1.bias"])
            x = F.gelu(x).transpose(1, 2)
        ours = model.wavlm.feature_extractor(normed)
        assert torch.allclose(ours, x, atol=1e-5)
        assert torch.allclose(model(wave), head_reference(state, states), atol=1e-4)


def test_loader_refuses_missing_and_unexpected_keys_by_name():
    from harness.judges.ecapa_wavlm import CheckpointLayoutError, load_encoder

    state = tiny_state()
    del state["layer3.SE_Connect.linear2.bias"]
    del state["feature_extract.model.encoder.layers.1.self_attn.grep_a"]
    state["layer2.shortcut.weight"] = state["conv.bias"]
    state["feature_extract.model.label_embs_concat"] = state["conv.bias"]
    with pytest.raises(CheckpointLayoutError) as exc:
        load_encoder({"model": state})
    msg = str(exc.value)
    for key in ("layer3.SE_Connect.linear2.bias", "feature_extract.model.encoder.layers.1.self_attn.grep_a",
                "layer2.shortcut.weight", "feature_extract.model.label_embs_concat"):
        assert key in msg, (key, msg)
    assert msg.index("missing") < msg.index("layer3.SE_Connect") < msg.index("unexpected") < msg.index("shortcut")
    wrong = tiny_state()
    wrong["linear.weight"] = wrong["linear.weight"][:, :-1]
    with pytest.raises(CheckpointLayoutError, match=r"shape mismatch: head\.embed\.weight"):
        load_encoder({"model": wrong})


def test_missing_checkpoint_is_a_one_line_configuration_error(tmp_path):
    for args in ({}, {"path": str(tmp_path / "nowhere.pth")}):
        with pytest.raises(ModelConfigError) as exc:
            build_quality_judge("sim-seed-tts-eval", args).check()
        msg = str(exc.value)
        assert "\n" not in msg and "wavlm_large_finetune.pth" in msg and "drive.google.com" in msg
        assert "--quality-judge sim-seed-tts-eval:path=" in msg
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelConfigError, match="cannot read"):
        build_quality_judge("sim-seed-tts-eval", {"path": str(tmp_path / "junk.pth")}).ensure_loaded()


def test_command_line_run_with_the_judge(tiny_ckpt, tmp_path, capsys):
    """tts_wer through the CLI: Piper's first sentence is the fixed reference voice, so sample 0 scores 1."""
    from harness.audio import write_wav
    from harness.cli import main as cli_main
    from harness.registry import MODELS

    piper = "piper-en_US-joe-medium"
    voice = MODELS.get(piper)(name=piper).synthesize(["A short sample of my voice."], "en")[0]
    write_wav(tmp_path / "voice.wav", voice.samples, voice.sample_rate)
    out = tmp_path / "run"
    code = cli_main(["run", "--task", "tts_wer", "--model", piper, "--offline-judges", "--limit", "2",
                     "--quality-judge", f"sim-seed-tts-eval:path={tiny_ckpt},reference_audio={tmp_path / 'voice.wav'}",
                     "--output-dir", str(out), "--no-progress"])
    assert code == 0, capsys.readouterr().err
    res = json.loads((out / "results.json").read_text())
    row = next(m for m in res["metrics"] if m["name"] == "sim_seed_tts_eval")
    assert row["n"] == 2 and row["unit"] == "cosine" and -1.0 <= row["value"] <= 1.0
    sha = hashlib.sha256(Path(tiny_ckpt).read_bytes()).hexdigest()
    info = res["quality_judges"]["sim-seed-tts-eval"]
    assert info["status"] == "ran" and info["revision"] == f"sha256:{sha}" and info["reference"] == "voice.wav"
    assert row["model"].startswith("sim-seed-tts-eval (transformers ") and sha[:12] in row["model"]
