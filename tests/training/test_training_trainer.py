"""The trainer end to end on a tiny model: a synthetic mapping learnt exactly, loss falls, resume."""
import json

import torch

from models.cslm.units import UNIT_FORMATS
from training.recipe import load_recipe
from training.trainer import train

COLORS = ["red", "green", "blue", "yellow", "black", "white", "orange", "purple"]


def mapping_records():
    """Eight unit sequences, each mapped to one word: units in the ASR prompt, the word as the answer."""
    fmt = UNIT_FORMATS["angle"][0]
    out = []
    for i, word in enumerate(COLORS):
        units = [(37 * i + 5 * k) % 4096 for k in range(4)]
        prompt = ("Please transcribe the user's speech into text. This is input: <sosp>"
                  + "".join(fmt.format(u) for u in units) + "<eosp>.")
        out.append({"id": f"m{i}", "prompt": prompt, "response": word, "units": units})
    return out


def write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def greedy(model, tokenizer, prompt: str, max_new_tokens: int = 8) -> str:
    text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt").input_ids
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             do_sample=False)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()


def test_synthetic_mapping_is_learnt_exactly(tiny_merged, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    records = mapping_records()
    data = write(tmp_path / "map.jsonl", records)
    recipe = load_recipe("tiny_cpu_cpt", [f"model={tiny_merged}", f"data=[{data}]",
                                          f"output_dir={tmp_path / 'out'}", "max_steps=100",
                                          "warmup_ratio=0.0", "save_steps=1000",
                                          "logging_steps=10", "per_device_train_batch_size=2"])
    summary = train(recipe)
    losses = [h["loss"] for h in summary["log_history"] if "loss" in h]
    assert losses[-1] < 0.1 * losses[0], losses
    tok = AutoTokenizer.from_pretrained(tmp_path / "out")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "out").eval()
    got = [greedy(model, tok, r["prompt"]) for r in records]
    assert got == COLORS


def test_resume_after_a_crash_gives_the_same_model(tiny_merged, tmp_path):
    """Run 6 steps saving every 3; then pretend the run died after checkpoint-3 (drop checkpoint-6 and the
    final model) and train again: it resumes from checkpoint-3 and ends with the same weights."""
    import shutil

    from safetensors.torch import load_file

    data = write(tmp_path / "map.jsonl", mapping_records() * 3)
    args = [f"model={tiny_merged}", f"data=[{data}]", "max_steps=6", "save_steps=3", "logging_steps=1",
            "per_device_train_batch_size=1", "max_length=128"]
    first = train(load_recipe("tiny_cpu_cpt", args + [f"output_dir={tmp_path / 'a'}"]))
    assert first["resumed_from"] is None and first["global_step"] == 6
    crashed = tmp_path / "b"
    shutil.copytree(tmp_path / "a", crashed)
    shutil.rmtree(crashed / "checkpoint-6")
    (crashed / "model.safetensors").unlink()
    second = train(load_recipe("tiny_cpu_cpt", args + [f"output_dir={crashed}"]))
    assert second["resumed_from"].endswith("checkpoint-3") and second["global_step"] == 6
    a, b = load_file(tmp_path / "a" / "model.safetensors"), load_file(crashed / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_padded_layout_trains_too(tiny_merged, tmp_path):
    """packing=false: the released layout (DataCollatorForSeq2Seq, attention mask) through the same trainer."""
    data = write(tmp_path / "map.jsonl", mapping_records())
    summary = train(load_recipe("tiny_cpu_cpt", [f"model={tiny_merged}", f"data=[{data}]", "packing=false",
                                                 f"output_dir={tmp_path / 'out'}", "max_steps=4",
                                                 "logging_steps=1", "save_steps=100"]))
    # 4 steps x 4 rows read 16 examples: two planned epochs of the 8 records
    assert summary["rows"] == summary["examples"] == 16 and summary["global_step"] == 4
    report = json.loads((tmp_path / "out" / "data_report.json").read_text())
    assert report["train_examples"] == 16 and report["epochs_planned"] == 2 and report["refused"] == {}


def test_the_data_report_says_which_records_each_source_gave(tiny_merged, tmp_path):
    """Two sources at 0.5/0.5, one four times the other: one mixed epoch draws a quarter of the big source, but
    training that reads four epochs reaches every record of both (each epoch is a fresh draw)."""
    records = mapping_records()
    big = write(tmp_path / "big.jsonl", [{**r, "id": f"{r['id']}-{k}", "response": f"{r['response']} {k}"}
                                         for k in range(4) for r in records])
    small = write(tmp_path / "small.jsonl", records)
    recipe = load_recipe("tiny_cpu_cpt", [f"model={tiny_merged}", f"data=[{{path: {big}, ratio: 0.5}}, "
                                          f"{{path: {small}, ratio: 0.5}}]", "packing=false",
                                          f"output_dir={tmp_path / 'out'}", "max_steps=16", "logging_steps=4",
                                          "save_steps=100", "per_device_train_batch_size=4"])
    train(recipe)
    report = json.loads((tmp_path / "out" / "data_report.json").read_text())
    assert report["mix"] == {str(big): 8, str(small): 8} and report["epochs_planned"] == 4
    assert report["seen"][str(big)] == {"records": 32, "draws": 32, "distinct_seen": 32}
    assert report["seen"][str(small)] == {"records": 8, "draws": 32, "distinct_seen": 8}
