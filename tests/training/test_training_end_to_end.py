"""The whole training path on CPU, through the command line:

real audio (BELLE-eval-S2S questions + English speech made by the offline Piper TTS) -> units (the CSLM
speech tokenizer stage, tiny ONNX model) -> CPT data (ASR, TTS, MT, instructions) -> vocabulary merge ->
CPT -> interleaved SFT data (CTC aligner: a tiny random Wav2Vec2ForCTC through the production path) ->
SFT -> a checkpoint the harness loads: ``asr_wer`` runs on it and ``respond`` answers.

Random tiny weights: the pipeline is checked (records, reports, falling losses, loading, channels), not
the quality of the answers.
"""
import json
import shutil

import pytest

from harness.audio import read_audio, write_wav
from harness.options import RunOptions
from harness.runner import evaluate
from training.cli import main as cli

EN_QA = [  # (English question, English answer) -- the answers are spoken by Piper
    ("What is machine learning?", "Machine learning lets computers learn patterns from data, and then use them to predict."),
    ("Why does the sun shine?", "The sun shines because nuclear fusion in its core turns hydrogen into helium."),
    ("What is the longest river?", "The Nile is usually called the longest river in the world, at about six thousand kilometres."),
    ("Who was the first president?", "George Washington was the first president of the United States."),
]
MT = [("今天天气很好。", "The weather is nice today."), ("我喜欢学习。", "I like learning."),
      ("这是一个问题。", "This is a question."), ("谢谢你的帮助。", "Thank you for your help.")]


def tiny_wav2vec2(folder):
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"<pad>": 0, "<unk>": 1, "|": 2, **{c: i + 3 for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ'")}}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    Wav2Vec2CTCTokenizer(str(folder / "vocab.json"), word_delimiter_token="|").save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True).save_pretrained(folder)
    torch.manual_seed(0)
    cfg = Wav2Vec2Config(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, conv_dim=(16,) * 7, num_conv_pos_embeddings=16,
                         num_conv_pos_embedding_groups=2, pad_token_id=0)
    Wav2Vec2ForCTC(cfg).save_pretrained(folder)
    return folder


def losses(folder):
    history = json.loads((folder / "train_summary.json").read_text())["log_history"]
    return [h["loss"] for h in history if "loss" in h]


@pytest.mark.slow
def test_audio_to_units_to_cpt_to_sft_to_harness(belle_dir, tiny_base, tiny_onnx_tokenizer, tmp_path, monkeypatch):
    from models.piper import PiperTTS

    monkeypatch.chdir(tmp_path)  # recipe paths are relative to the current directory
    unit_cache = str(tmp_path / "unit_cache")
    speech = ["--speech-tokenizer", str(tiny_onnx_tokenizer), "--units-cache", unit_cache]

    # -- audio: 8 BELLE-eval-S2S questions (zh) and Piper speech for the English texts --------------------
    belle_rows = [r.split("\t") for r in (belle_dir / "test.tsv").read_text(encoding="utf-8").splitlines()[1:9]]
    (tmp_path / "zh").mkdir()
    for rid, _ in belle_rows:
        shutil.copy(belle_dir / "wav" / f"{rid}.wav", tmp_path / "zh" / f"{rid}.wav")
    (tmp_path / "zh" / "asr.tsv").write_text("id\ttext\n" + "".join(f"{i}\t{t}\n" for i, t in belle_rows)
                                             + "missing\t没有这个文件\n", encoding="utf-8")
    piper = PiperTTS("piper-en_US-joe-medium")
    en_texts = [q for q, _ in EN_QA] + [a for _, a in EN_QA]
    (tmp_path / "en").mkdir()
    for i, audio in enumerate(piper.synthesize(en_texts, "en")):
        write_wav(tmp_path / "en" / f"en{i}.wav", audio.samples, audio.sample_rate)
    (tmp_path / "en" / "asr.tsv").write_text("id\ttext\n" + "".join(f"en{i}\t{t}\n" for i, t in enumerate(en_texts)),
                                             encoding="utf-8")

    # -- CPT data through the CLI ---------------------------------------------------------------------
    data = tmp_path / "runs" / "tiny" / "data"
    for kind in ("asr", "tts"):
        assert cli(["build-cpt", kind, "--manifest", "zh/asr.tsv", "--lang", "zh", "--out", f"{data}/{kind}_zh.jsonl",
                    *speech]) == 0
        assert cli(["build-cpt", kind, "--manifest", "en/asr.tsv", "--lang", "en", "--out", f"{data}/{kind}_en.jsonl",
                    *speech]) == 0
    report = json.loads((data / "asr_zh.jsonl.report.json").read_text())
    assert report["written"] == 8 and report["refused"] == {"missing_audio": 1}
    assert report["problems"][0]["source"].endswith("asr.tsv:10")
    (tmp_path / "mt.tsv").write_text("zh\ten\n" + "".join(f"{z}\t{e}\n" for z, e in MT), encoding="utf-8")
    assert cli(["build-cpt", "mt", "--manifest", "mt.tsv", "--out", f"{data}/mt.jsonl"]) == 0
    (tmp_path / "instruct.jsonl").write_text("".join(json.dumps({"prompt": q, "response": a}) + "\n" for q, a in EN_QA))
    assert cli(["build-cpt", "instruct", "--manifest", "instruct.jsonl", "--lang", "en", "--out",
                f"{data}/instruct.jsonl"]) == 0
    for part in ("asr", "tts"):
        merged = [line for lang in ("zh", "en") for line in (data / f"{part}_{lang}.jsonl").read_text().splitlines()]
        (data / f"{part}.jsonl").write_text("\n".join(merged) + "\n")

    # -- merge the vocabulary, CPT with the tiny CPU recipe -------------------------------------------
    assert cli(["merge-vocab", "--base", str(tiny_base), "--out", "runs/tiny/merged"]) == 0
    assert cli(["train", "tiny_cpu_cpt", "max_steps=80", "logging_steps=10", "save_steps=1000"]) == 0
    cpt = tmp_path / "runs" / "tiny" / "cpt"
    cpt_losses = losses(cpt)
    assert cpt_losses[-1] < 0.5 * cpt_losses[0], cpt_losses
    cpt_report = json.loads((cpt / "data_report.json").read_text())
    assert cpt_report["train_examples"] > 0 and set(cpt_report["mix"]) == {
        f"runs/tiny/data/{k}.jsonl" for k in ("asr", "tts", "mt", "instruct")}

    # -- interleaved SFT data: zh question -> en answer (cross-lingual) and en -> en --------------------
    dialogues = []
    for i, (_q, answer) in enumerate(EN_QA):
        zh_id, zh_text = belle_rows[i]
        dialogues.append({"id": f"x{i}", "question_audio": f"zh/{zh_id}.wav", "question_text": zh_text,
                          "question_lang": "zh", "answer_text": answer, "answer_lang": "en",
                          "answer_audio": f"en/en{len(EN_QA) + i}.wav"})
        dialogues.append({"id": f"e{i}", "question_audio": f"en/en{i}.wav", "question_text": EN_QA[i][0],
                          "question_lang": "en", "answer_text": answer, "answer_lang": "en",
                          "answer_audio": f"en/en{len(EN_QA) + i}.wav"})
    dialogues.append({"id": "bad", "question_audio": "zh/0.wav", "question_text": "x", "question_lang": "zh",
                      "answer_text": "", "answer_lang": "en", "answer_audio": "en/en4.wav"})
    (tmp_path / "dialogues.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in dialogues))
    aligner = tiny_wav2vec2(tmp_path / "w2v")
    assert cli(["build-sft", "--manifest", "dialogues.jsonl", "--aligner", str(aligner), "--chunk-size", "en=5",
                "--out", f"{data}/sft.jsonl", *speech]) == 0
    sft_records = [json.loads(line) for line in (data / "sft.jsonl").read_text().splitlines()]
    assert len(sft_records) == 8
    sft_report = json.loads((data / "sft.jsonl.report.json").read_text())
    assert sft_report["refused"] == {"empty_text": 1} and sft_report["problems"][0]["source"].endswith(":9")
    cross = sft_records[0]
    assert cross["prompt"].startswith("Please answer the questions in the user's speech in English.")
    assert cross["response"].startswith(f"[question]{belle_rows[0][1]}[answer]Machine learning")
    assert cross["response"].count("<sosp>") == len(cross["chunks"]) >= 2
    # the slices cover the whole answer utterance once (25 Hz indices of one tokenization)
    assert cross["chunks"][0]["start"] == 0 and all(a["end"] == b["start"] for a, b in
                                                    zip(cross["chunks"], cross["chunks"][1:]))

    # -- SFT, starting from the CPT output, the harness evaluating each saved checkpoint ------------------
    harness_eval = {"model_args": {"speech_tokenizer": str(tiny_onnx_tokenizer), "unit_cache": unit_cache,
                                   "do_sample": False, "max_new_tokens": 24},
                    "runs": [{"name": "asr-zh", "task": "asr_wer", "dataset": "belle-eval-s2s",
                              "dataset_args": {"path": str(belle_dir)}, "limit": 2}], "bootstrap_resamples": 0}
    assert cli(["train", "tiny_cpu_sft", "max_steps=40", "logging_steps=5", "save_steps=20",
                f"harness_eval={json.dumps(harness_eval)}"]) == 0
    sft = tmp_path / "runs" / "tiny" / "sft"
    sft_losses = losses(sft)
    assert sft_losses[-1] < 0.7 * sft_losses[0], sft_losses
    curve = [json.loads(line) for line in (sft / "harness_eval" / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["run"], r["name"], r["lang"]) for r in curve] == [(20, "asr-zh", "cer", "zh"),
                                                                          (40, "asr-zh", "cer", "zh")]
    assert all(r["value"] is not None and r["status"] == "complete" and r["n"] == 2 for r in curve)
    first = json.loads((sft / "harness_eval" / "step-000020" / "asr-zh" / "results.json").read_text())
    assert first["model"]["checkpoint"] == str((sft / "checkpoint-20").resolve())  # evaluated mid-training
    assert (sft / "harness_eval" / "curves" / "asr-zh.png").stat().st_size > 1000
    history = json.loads((sft / "train_summary.json").read_text())["log_history"]
    assert [h["step"] for h in history if "harness/asr-zh/cer_zh" in h] == [20, 40]

    # -- the harness loads the checkpoint: asr_wer on BELLE-eval-S2S, and respond ------------------------
    model_args = {"path": str(sft), "speech_tokenizer": str(tiny_onnx_tokenizer), "unit_cache": unit_cache,
                  "do_sample": "false", "max_new_tokens": "48"}  # prompt_mode comes from the checkpoint
    results = evaluate(RunOptions(task="asr_wer", model="cslm", model_args=model_args, dataset="belle-eval-s2s",
                                  dataset_args={"path": str(belle_dir)}, limit=3, output_dir=str(tmp_path / "eval"),
                                  bootstrap_resamples=0, progress=False))
    assert results["counts"]["samples"] == 3 and results["counts"]["failed"] == 0
    assert results["model"]["generation"]["prompt_mode"] == "generation-prompt"  # read from cslm_harness.json
    assert results["model"]["checkpoint"] == str(sft.resolve())
    from models.cslm.adapter import CSLM

    model = CSLM("cslm", **model_args)
    audio = read_audio(belle_dir / "wav" / f"{belle_rows[0][0]}.wav", 16000)
    response = model.respond(audio, None, "en")
    assert response.raw and response.events["input_units"] > 0
    assert isinstance(response.text, str) and isinstance(response.units, list)
