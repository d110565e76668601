"""Dependencies run one way: the CSLM adapter uses the codec, the codec never imports models.cslm."""
import subprocess
import sys
from pathlib import Path

CODEC = Path(__file__).resolve().parents[3] / "models" / "codec"


def test_the_codec_package_never_names_models_cslm():
    offenders = [p.name for p in CODEC.glob("*.py") if "models.cslm" in p.read_text(encoding="utf-8")]
    assert not offenders


def test_importing_the_codec_vocoder_loads_no_cslm_module():
    code = ("import sys, models.codec.vocoder, models.codec.adapter, models.codec.durations; "
            "print(sorted(m for m in sys.modules if m.startswith('models.cslm')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=CODEC.parents[1]).stdout.strip()
    assert out == "[]"
