import importlib.util

import numpy as np
import pytest
import soundfile as sf

from harness.model import ModelConfigError
from models.cslm.vocoder import ExternalVocoder, VocoderPending, make_vocoder, units_key


def test_unit_sine_is_deterministic_25hz():
    voc = make_vocoder("unit-sine")
    a = voc.render([1, 2, 3])
    assert a.sample_rate == 16000 and len(a.samples) == 3 * 640  # 40 ms per unit
    assert np.array_equal(a.samples, voc.render([1, 2, 3]).samples)
    assert len(voc.render([1, 2], runs=[3, 1]).samples) == 4 * 640
    assert not np.array_equal(voc.render([1]).samples, voc.render([2]).samples)
    assert "not speech" in voc.describe()["note"]


def test_external_vocoder_request_then_pickup(tmp_path):
    voc = ExternalVocoder(str(tmp_path))
    voc.load()
    with pytest.raises(VocoderPending) as err:
        voc.render([4, 5, 6])
    assert err.value.code == "vocoder_pending"
    request = tmp_path / "requests" / f"{units_key([4, 5, 6])}.units"
    assert request.read_text() == "4 5 6\n"
    with pytest.raises(VocoderPending):  # asked again: the same request file, rewritten (no duplicates)
        voc.render([4, 5, 6])
    assert len(list((tmp_path / "requests").iterdir())) == 1
    sf.write(tmp_path / f"{units_key([4, 5, 6])}.wav", np.full(2205, 0.1, dtype=np.float32), 22050)
    audio = voc.render([4, 5, 6])
    assert audio.sample_rate == 22050 and len(audio.samples) == 2205


def test_vocoder_specs():
    assert make_vocoder("none") is None and make_vocoder(None) is None
    with pytest.raises(ModelConfigError, match="choose none, unit-sine"):
        make_vocoder("griffin-lim")
    with pytest.raises(ModelConfigError, match="external:DIR"):
        make_vocoder("external")


@pytest.mark.skipif(importlib.util.find_spec("cosyvoice") is not None, reason="CosyVoice code is installed")
def test_cosyvoice_absent_says_how_to_install():
    voc = make_vocoder("cosyvoice:/nowhere")
    assert voc.describe()["model"] == "/nowhere"
    with pytest.raises(ModelConfigError, match=r"cslm-harness\[cosyvoice\]"):
        voc.load()
