"""DeepSpeed ZeRO-2 with two processes on CPU (torchrun): the tiny model trains (with gradient accumulation,
its loss computed at labelled positions only through the DeepSpeed engine), the optimizer state is
partitioned across the two ranks, and the saved model loads. Slow: DeepSpeed compiles its CPU
communication op once (about 40 s, cached in TORCH_EXTENSIONS_DIR)."""
import json
import os
import socket
import subprocess
import sys

import pytest
from test_training_trainer import mapping_records, write


@pytest.mark.slow
def test_zero2_two_processes_on_cpu(tiny_merged, tmp_path):
    data = write(tmp_path / "map.jsonl", mapping_records() * 4)
    out = tmp_path / "out"
    with socket.socket() as sock:  # a free port for the rendezvous
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
           "-m", "training", "train", "tiny_cpu_cpt", f"model={tiny_merged}", f"data=[{data}]",
           f"output_dir={out}", "deepspeed=ds_zero2.json", "max_steps=20", "save_steps=20", "logging_steps=2",
           "per_device_train_batch_size=1", "gradient_accumulation_steps=2", "max_length=128"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "labelled loss through DeepSpeedEngine" in proc.stderr  # training.labelled_loss, via the engine
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["deepspeed"].endswith("ds_zero2.json") and summary["global_step"] == 20
    losses = [h["loss"] for h in summary["log_history"] if "loss" in h]
    assert losses[-1] < losses[0] - 1.0, losses
    step_dir = out / "checkpoint-20" / "global_step20"
    assert sorted(p.name for p in step_dir.glob("*optim_states.pt")) == [
        "zero_pp_rank_0_mp_rank_00_optim_states.pt", "zero_pp_rank_1_mp_rank_00_optim_states.pt"]
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(out)  # the final model is a plain HF checkpoint
