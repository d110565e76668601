"""Paraformer through FunASR's AutoModel on a tiny random model folder (real loading path)."""
import hashlib
import logging

import numpy as np
import pytest

from harness.model import ModelConfigError
from models.paraformer import INT16_SCALE, Paraformer, dither_waveform, join_han


def _audio(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal(int(seconds * 16000))).astype(np.float32)


def test_tiny_paraformer_transcribes_deterministically(tiny_paraformer_dir):
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    model = Paraformer(name="paraformer-zh", path=str(tiny_paraformer_dir))
    audios = [_audio(1.0, 0), _audio(1.5, 1)]
    first = model.transcribe(audios, "zh")
    assert len(first) == 2 and all(isinstance(t, str) and t for t in first)
    assert all(" " not in t for t in first)  # Han characters come back unspaced
    assert model.transcribe(audios, "zh") == first  # no feature dithering: the same every time
    assert (list(root.handlers), root.level) == before  # importing funasr must not reconfigure logging


def test_published_dither_is_applied_from_a_seeded_generator(tiny_paraformer_dir):
    silence = np.zeros(16000, np.float32)  # digital silence: where dither changes the features most
    noisy = dither_waveform(silence, 1.0)
    assert np.array_equal(noisy, dither_waveform(silence, 1.0))  # the same audio always gets the same noise
    assert abs(float(noisy.std()) * INT16_SCALE - 1.0) < 0.05  # N(0, 1) in 16-bit units
    assert np.array_equal(dither_waveform(silence, 0.0), silence)
    model = Paraformer(name="paraformer-zh", path=str(tiny_paraformer_dir))
    assert model.describe()["frontend"] == {"dither": 1.0, "dither_seed": 0, "funasr_frontend_dither": 0.0}
    audios = [silence, _audio(1.0, 3)]
    first = model.transcribe(audios, "zh")
    assert model.transcribe(audios, "zh") == first and model.transcribe(audios[1:], "zh") == first[1:]
    frontend = model._model.kwargs["frontend"]  # FunASR's own dither is off; the config's other settings stay
    assert frontend.dither == 0.0 and frontend.lfr_m == 7 and frontend.cmvn is not None
    plain = Paraformer(name="paraformer-zh", path=str(tiny_paraformer_dir), dither="0")
    assert plain.options["dither"] == 0.0 and plain.transcribe(audios, "zh") == plain.transcribe(audios, "zh")
    with pytest.raises(ModelConfigError, match="dither must be >= 0"):
        Paraformer(name="paraformer-zh", dither="-1")


def test_describe_carries_revisions(tiny_paraformer_dir):
    info = Paraformer(name="paraformer-zh", path=str(tiny_paraformer_dir)).describe()
    digest = hashlib.sha256((tiny_paraformer_dir / "model.pt").read_bytes()).hexdigest()
    assert info["revision"] == f"sha256:{digest}" and info["config_revision"].startswith("sha256:")
    assert info["backend"] == "funasr" and info["versions"]["funasr"] and info["path"] == str(tiny_paraformer_dir)


@pytest.mark.parametrize("missing", ["model.pt", "config.yaml", "tokens.json"])
def test_missing_file_is_named(tiny_paraformer_dir, tmp_path, missing):
    for f in tiny_paraformer_dir.iterdir():
        if f.name != missing:
            (tmp_path / f.name).symlink_to(f)
    with pytest.raises(ModelConfigError, match=missing.replace(".", r"\.")):
        Paraformer(name="paraformer-zh", path=str(tmp_path))


def test_options_and_language():
    with pytest.raises(ModelConfigError, match="unknown option.*batch_size.*accepted: device, dither, hub, path"):
        Paraformer(name="paraformer-zh", batch_size="4")
    with pytest.raises(ModelConfigError, match="hub='github'"):
        Paraformer(name="paraformer-zh", hub="github")
    model = Paraformer(name="paraformer-zh")
    assert model.supports_language("zh") and not model.supports_language("en")


def test_offline_without_path_says_how_to_pass_one(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path))  # nothing cached
    model = Paraformer(name="paraformer-zh")
    with pytest.raises(ModelConfigError, match="path=DIR"):
        model.ensure_loaded()


@pytest.mark.parametrize("raw, expected", [
    ("你 好 世 界", "你好世界"),
    ("你好世界", "你好世界"),
    ("hello world", "hello world"),
    ("我 用 python 写 代 码", "我用 python 写代码"),
    ("  中 文  ", "中文"),
    ("", ""),
])
def test_join_han(raw, expected):
    assert join_han(raw) == expected
