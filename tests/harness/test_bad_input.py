"""The bad-input battery: every broken sample is recorded with its reason, the run finishes, counts add up."""
import json

import numpy as np
import soundfile as sf

from harness.options import RunOptions
from harness.runner import evaluate

SR = 16000


def _tone(seconds, sr=SR, channels=1):
    t = np.arange(int(seconds * sr)) / sr
    x = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def make_battery(root):
    wav = root / "wav"
    wav.mkdir()
    sf.write(wav / "good.wav", _tone(1.0), SR)
    sf.write(wav / "stereo.wav", _tone(1.0, channels=2), SR)
    sf.write(wav / "rate8k.wav", _tone(1.0, sr=8000), 8000)
    (wav / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 10)
    (wav / "empty.wav").write_bytes(b"")
    sf.write(wav / "noframes.wav", np.zeros(0, dtype=np.float32), SR)
    sf.write(wav / "silent.wav", np.zeros(SR, dtype=np.float32), SR)
    nan = _tone(1.0)
    nan[100] = np.nan
    sf.write(wav / "nan.wav", nan, SR, subtype="FLOAT")
    sf.write(wav / "long.wav", _tone(31.0), SR)
    lines = [b"id\ttext",
             *[f"{name}\thello world".encode() for name in
               ("good", "stereo", "rate8k", "corrupt", "empty", "noframes", "silent", "nan", "long", "missing")],
             b"latin1\tcaf\xe9 au lait",           # not UTF-8
             b"toomany\thello\textra",            # wrong field count
             b"good\thello again",                 # duplicate id
             b"blank\t   "]                        # empty reference
    (root / "test.tsv").write_bytes(b"\n".join(lines) + b"\n")
    return root / "test.tsv"


def test_every_bad_sample_is_recorded_and_counted(tmp_path):
    manifest = make_battery(tmp_path)
    opts = RunOptions(task="asr_wer", model="dummy-asr", model_args={"text": "hello world"}, dataset="local",
                      dataset_args={"path": str(manifest), "lang": "en", "audio_dir": str(tmp_path / "wav")},
                      output_dir=str(tmp_path / "out"), progress=False, bootstrap_resamples=100)
    results = evaluate(opts)
    counts = results["counts"]
    assert counts["failed_by_reason"] == {"corrupt": 1, "empty": 2, "silent": 1, "nan": 1, "too_long": 1,
                                          "missing": 1, "manifest": 4}
    assert counts["failed_by_stage"] == {"transcribe": 7, "manifest": 4}
    assert counts["samples"] == 14 and counts["scored"] == 3 and counts["failed"] == 11
    # Unreadable input and manifest rows are the measurement's failures, not the model's: left out, and the
    # result says it is incomplete.
    assert counts["measurement_failed"] == 11 and counts["system_failed"] == 0 and results["status"] == "incomplete"
    assert counts["with_warnings"] == 1  # the stereo file, downmixed
    wer = [m for m in results["metrics"] if m["headline"]][0]
    assert wer["n"] == 3 and wer["value"] == 0.0 and wer["coverage"]["total"] == 10

    rows = {r["id"]: r for r in map(json.loads, (tmp_path / "out" / "samples.jsonl").read_text().splitlines())}
    assert rows["stereo"]["status"] == "ok" and "downmixed 2 channels" in rows["stereo"]["warnings"][0]
    assert rows["rate8k"]["status"] == "ok"
    assert "31.0 s" in rows["long"]["error"]["message"]
    assert "does not exist" in rows["missing"]["error"]["message"]
    manifest_rows = [r for r in rows.values() if r.get("error") and r["error"]["stage"] == "manifest"]
    messages = " | ".join(r["error"]["message"] for r in manifest_rows)
    assert "not UTF-8" in messages and "3 tab-separated fields" in messages
    assert "duplicate id 'good' (first at line 2)" in messages and "empty reference" in messages
    assert all(str(manifest) in r["source"] for r in manifest_rows)


def test_failures_are_cached_and_retried_on_request(tmp_path):
    manifest = make_battery(tmp_path)
    base = dict(task="asr_wer", model="dummy-asr", model_args={"text": "hello world"}, dataset="local",
                dataset_args={"path": str(manifest), "lang": "en", "audio_dir": str(tmp_path / "wav")},
                output_dir=str(tmp_path / "out"), progress=False, bootstrap_resamples=0)
    evaluate(RunOptions(**base))
    sf.write(tmp_path / "wav" / "silent.wav", _tone(1.0), SR)     # the user fixes one file
    again = evaluate(RunOptions(**base))
    assert again["counts"]["failed_by_reason"]["silent"] == 1       # cached failure, not silently re-run
    fixed = evaluate(RunOptions(**base, retry_failed="measurement"))
    assert "silent" not in fixed["counts"]["failed_by_reason"] and fixed["counts"]["scored"] == 4
    cache = next((tmp_path / "out" / "cache").glob("transcribe-*/rank0.jsonl"))
    ids = [json.loads(line)["id"] for line in cache.read_text().splitlines()]
    assert len(ids) == len(set(ids))  # retrying rewrote the shard instead of duplicating records
