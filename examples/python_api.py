"""Evaluate from Python: the four-item precomputed system of examples/precomputed_belle, scored on BELLE-eval-S2S.

From the repository root: ``.venv/bin/python examples/python_api.py [OUTPUT_DIR]`` (tests/docs runs it).
"""
import sys

import harness

results = harness.evaluate(
    task="asr_wer", model="precomputed", dataset="belle-eval-s2s",
    model_args={"path": "examples/precomputed_belle"},      # --model-arg path=...
    dataset_args={"path": "../shared/BELLE-eval-S2S"},      # --dataset-arg path=...
    limit=4,
    output_dir=sys.argv[1] if len(sys.argv) > 1 else "runs/quickstart/python-api",
)
for row in results["metrics"]:
    if row["headline"]:  # the protocol's figure; the other aggregation is reported too
        low, high = row["ci95"]
        print(f"{row['name']} {row['lang']} ({row['aggregation']}): {row['value']:.3f} [{low:.3f}, {high:.3f}], "
              f"n={row['n']}")
print(f"status: {results['status']}; failed samples: {results['counts']['failed']}")
