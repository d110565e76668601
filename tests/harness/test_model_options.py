"""Unknown model options are refused by harness.model.Model itself, before the adapter's __init__ runs."""
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from harness.model import TRANSCRIBE, Model, ModelConfigError
from harness.options import ConfigError, RunOptions
from harness.plan import plan

REPO = Path(__file__).resolve().parents[2]


class NoOptions(Model):
    capabilities = frozenset({TRANSCRIBE})


class Declared(Model):
    capabilities = frozenset({TRANSCRIBE})
    allowed = frozenset({"beam_size", "path"})

    def __init__(self, name: str, **options):
        self.built_with = dict(options)  # reached only with known options
        super().__init__(name, **options)


class Named(Model):
    def __init__(self, name: str, temperature: str = "0", top_p: str = "1"):
        super().__init__(name, temperature=temperature, top_p=top_p)


class Open(Model):
    """Takes **options without declaring them: it checks its own (as the wrappers do)."""

    def __init__(self, name: str, **options):
        super().__init__(name, **options)


def test_a_model_that_declares_nothing_takes_no_options():
    assert NoOptions("plain").options == {}
    with pytest.raises(ModelConfigError, match="model plain: unknown option.s. beam; accepted: none"):
        NoOptions(name="plain", beam="5")


def test_declared_options_are_checked_before_the_adapter_runs():
    assert Declared("d", beam_size="2").built_with == {"beam_size": "2"}
    with pytest.raises(ModelConfigError, match=r"model d: unknown option\(s\) beam, pth; accepted: beam_size, path"):
        Declared(name="d", beam="2", pth="x")


def test_keyword_parameters_are_the_known_options_when_none_are_declared():
    assert Named("n", temperature="0.7").options == {"temperature": "0.7", "top_p": "1"}
    with pytest.raises(ModelConfigError, match="unknown option.s. top_k; accepted: temperature, top_p"):
        Named("n", top_k="5")
    assert Open.known_options() is None and Open("o", anything="1").options == {"anything": "1"}


def test_models_survive_pickling():  # multiprocessing and copies rebuild models through __new__ without options
    model = pickle.loads(pickle.dumps(Declared("d", beam_size="2")))
    assert model.options == {"beam_size": "2"}


def test_a_registered_adapter_names_the_unknown_key_and_the_known_ones():
    with pytest.raises(ConfigError) as err:
        plan(RunOptions(task="asr_wer", model="whisper-tiny.en-bundled", model_args={"beam": "1"}))
    message = str(err.value)
    assert "unknown option(s) beam" in message and "beam_size" in message and "compute_type" in message
    assert "path" not in message.split("accepted:")[1]  # the bundled models take no path


def test_building_a_ctranslate2_model_imports_no_torch():
    """device=auto is resolved by CTranslate2 itself, so a cached rerun that builds its judge stays light."""
    code = ("import sys; from harness.registry import MODELS; "
            "m = MODELS.get('whisper-tiny.en-bundled')(name='whisper-tiny.en-bundled', device='auto'); "
            "assert m.describe()['device'] in ('cpu', 'cuda'); assert 'torch' not in sys.modules, 'torch imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
