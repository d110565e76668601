"""The data builders' speech-tokenizer stage over worker processes: identical outputs, resumable through the cache."""
from harness.datasets.local import read_manifest
from training.cli import main as cli
from training.tokenize_pool import TokenizerSpec, pretokenize

N = 8


def belle_manifest(tmp_path, belle_dir):
    lines = (belle_dir / "test.tsv").read_text(encoding="utf-8").splitlines()[1:N + 1]
    rows = ["id\ttext\taudio"] + [f"{i}\t{t}\t{belle_dir / 'wav' / (i + '.wav')}" for i, t in
                                  (line.split("\t", 1) for line in lines)]
    path = tmp_path / "asr.tsv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_two_workers_give_byte_identical_records(tmp_path, belle_dir, tiny_onnx_tokenizer):
    manifest = belle_manifest(tmp_path, belle_dir)
    outs = {}
    for workers in (1, 2):
        out = tmp_path / f"asr-{workers}.jsonl"
        assert cli(["build-cpt", "asr", "--manifest", str(manifest), "--lang", "zh", "--speech-tokenizer",
                    str(tiny_onnx_tokenizer), "--units-cache", str(tmp_path / f"cache{workers}"), "--workers",
                    str(workers), "--out", str(out)]) == 0
        outs[workers] = out.read_bytes()
    assert outs[1] == outs[2] and outs[1].count(b"\n") == N


def test_a_killed_run_resumes_from_the_cache(tmp_path, belle_dir, tiny_onnx_tokenizer):
    items = read_manifest(belle_manifest(tmp_path, belle_dir), lang="zh").items
    spec = TokenizerSpec(str(tiny_onnx_tokenizer), str(tmp_path / "cache"))
    first = pretokenize(items[: N // 2], spec, workers=2, progress=False)  # a run stopped halfway
    assert first["cache_misses"] == N // 2 and first["failed"] == 0
    resumed = pretokenize(items, spec, workers=2, progress=False)
    assert resumed["cache_hits"] == N // 2 and resumed["cache_misses"] == N // 2 and resumed["onnx_runs"] == N // 2
