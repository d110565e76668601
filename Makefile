# One entry point for users and CI: `make demo` (set up + offline evaluation), `make test` (set up + tests).
PY := .venv/bin/python
# The BELLE-eval-S2S folder next to this checkout, when there is one; otherwise the loader uses the Hub.
BELLE_EVAL_S2S_DIR ?= $(wildcard $(CURDIR)/../shared/BELLE-eval-S2S)
export BELLE_EVAL_S2S_DIR
RUNS ?= runs/demo

# The committed leaderboard: real offline evaluations into $(LB_RUNS), tables and plots into leaderboards/.
LB_RUNS ?= runs/leaderboard
# BELLE-eval-S2S ASR: the first 50 of 250 rows (all 250 take over 5 minutes on 2 CPU cores).
LB_ASR_LIMIT ?= 50
LB_PIPER := --model piper-en_US-joe-medium
LB_RUN := $(PY) -m harness run --no-progress
# Speech-quality judges that run offline (MOS predictors whose weights ship in their wheels): columns of the TTS tables.
LB_QUALITY := --quality-judge dnsmos --quality-judge distillmos
LB_PAGE := --title "cslm-harness leaderboard" \
	--note "What this project measured on real models that run offline on CPU; regenerate with \`make leaderboard\`."

.PHONY: setup demo test test-fast bench clean leaderboard codec mini-cslm
setup:
	bash scripts/setup.sh

demo: setup
	$(PY) -m harness run --task tts_wer --model piper-en_US-joe-medium --offline-judges --output-dir $(RUNS)/tts_wer-piper-joe
	$(PY) -m harness run --task asr_wer --model whisper-base-bundled --dataset belle-eval-s2s --limit 20 --output-dir $(RUNS)/asr_wer-whisper-base
	$(PY) -m harness show $(RUNS)

leaderboard: setup
	$(LB_RUN) --task tts_wer $(LB_PIPER) $(LB_QUALITY) --offline-judges --output-dir $(LB_RUNS)/tables/tts_wer--piper-joe--judge-tiny.en
	$(LB_RUN) --task tts_wer $(LB_PIPER) $(LB_QUALITY) --judge en=whisper-base-bundled --output-dir $(LB_RUNS)/tables/tts_wer--piper-joe--judge-base
	$(LB_RUN) --task tts_wer_numnorm $(LB_PIPER) $(LB_QUALITY) --offline-judges --output-dir $(LB_RUNS)/tables/tts_wer_numnorm--piper-joe--judge-tiny.en
	$(LB_RUN) --task asr_wer --model whisper-base-bundled --dataset belle-eval-s2s --limit $(LB_ASR_LIMIT) \
		--output-dir $(LB_RUNS)/tables/asr_wer--whisper-base-bundled--belle-eval-s2s
	# Ablation: Piper's length_scale 1.0 vs 1.3 (deterministic: no sampling noise), judged by tiny.en.
	$(LB_RUN) --task tts_wer $(LB_PIPER) --model-arg length_scale=1.0 --model-arg noise_scale=0 --model-arg noise_w_scale=0 \
		--offline-judges --output-dir $(LB_RUNS)/ablation-length_scale/1.0
	$(LB_RUN) --task tts_wer $(LB_PIPER) --model-arg length_scale=1.3 --model-arg noise_scale=0 --model-arg noise_w_scale=0 \
		--offline-judges --output-dir $(LB_RUNS)/ablation-length_scale/1.3
	$(PY) -m harness leaderboard ablation --factor length_scale --a $(LB_RUNS)/ablation-length_scale/1.0 \
		--b $(LB_RUNS)/ablation-length_scale/1.3 --out leaderboards/ablations/length_scale --copy-runs
	$(PY) -m harness leaderboard build $(LB_RUNS)/tables --out leaderboards --copy-runs $(LB_PAGE)

# The offline speech codec (Whisper-base k-means tokenizer + streaming unit vocoder + duration model), then its
# resynthesis WER on the 24 held-out Piper sentences (tiny.en) three ways -- un-merged units, run-merged units one
# frame per run (a speech LM's output, rendered as before the duration model), run-merged units expanded by the
# duration model -- into the board leaderboards/codec/, and CER on BELLE-eval-S2S rows 0..49 (base); rerun to resume
# (a codec folder built before the duration model gains only that step).
CODEC_DIR ?= runs/codec-full
CODEC_EN := $(CODEC_DIR)-eval/resynthesis-en
CODEC_NOTE := Held-out English resynthesis of the offline codec ($(CODEC_DIR), codec_full.yaml) three ways: the tokenizer's un-merged units, the same units run-merged (what a speech LM emits) rendered one frame per run, and run-merged then expanded by the codec's duration model; regenerate with make codec.
codec: setup
	OMP_NUM_THREADS=1 $(PY) -m training build-codec training/recipes/codec/codec_full.yaml output_dir=$(CODEC_DIR)
	OMP_NUM_THREADS=1 $(PY) -m harness run --task resynthesis --model codec --model-arg path=$(CODEC_DIR) \
		--output-dir $(CODEC_EN)
	OMP_NUM_THREADS=1 $(PY) -m harness run --task resynthesis --model codec --model-arg path=$(CODEC_DIR) \
		--model-arg merge=one-frame --output-dir $(CODEC_EN)-merged
	OMP_NUM_THREADS=1 $(PY) -m harness run --task resynthesis --model codec --model-arg path=$(CODEC_DIR) \
		--model-arg merge=durations --output-dir $(CODEC_EN)-durations
	$(PY) -m harness leaderboard build $(CODEC_EN) $(CODEC_EN)-merged $(CODEC_EN)-durations --out leaderboards/codec \
		--copy-runs --title "Offline speech codec: resynthesis" --note "$(CODEC_NOTE)"
	OMP_NUM_THREADS=1 $(PY) -m harness run --task resynthesis --model codec --model-arg path=$(CODEC_DIR) \
		--dataset belle-eval-s2s --limit 50 --output-dir $(CODEC_DIR)-eval/resynthesis-zh
	OMP_NUM_THREADS=1 $(PY) benchmarks/codec_speed.py --codec $(CODEC_DIR)

# The mini-CSLM end to end (world -> stage-0 text model -> merge-vocab -> CPT -> SFT -> ablations -> harness),
# on the codec above (read-only); rerun to resume: finished steps are skipped. Results: $(MINI_DIR)/results/;
# the board (one row per checkpoint, the MT and interleaved-vs-full ablations, training curves): leaderboards/mini-cslm/.
# Measured 2026-12-06 from an empty folder each, codec reused, quiet cores, one after the other: seed 0 69 minutes
# of wall, seed 1 72 (world 15, stage 0 18 beside it, CPT 13-14 beside CPT-nomt 13-14, SFTs 5-6 / 3-4 / 3; training
# done at 45-46, then 28 evaluations in 26-28: 100 items per English headline set, 50 per zh and cross set, whose
# whisper-base judges take most of that); plus 20 for the codec when $(CODEC_DIR) holds none.
# SEED picks the run (its own folder; the board shows every seed's run that exists, and their spread):
# `make mini-cslm SEED=0` then `make mini-cslm SEED=1`.
SEED ?= 0
MINI_DIR ?= runs/mini-cslm-seed$(SEED)
mini-cslm: setup
	# the codec first, unless built (build-codec resumes; codec.json is written last, when it is complete)
	test -f $(CODEC_DIR)/codec.json || OMP_NUM_THREADS=1 $(PY) -m training build-codec \
		training/recipes/codec/codec_full.yaml output_dir=$(CODEC_DIR)
	$(PY) -m training mini-cslm training/recipes/mini_cslm/mini_full.yaml output_dir=$(MINI_DIR) codec=$(CODEC_DIR) \
		seed=$(SEED) train.seed=$(SEED)
	# the main page again, from its committed copies, so that it links the mini-CSLM board
	$(PY) -m harness leaderboard build leaderboards/results --out leaderboards --copy-runs $(LB_PAGE)

test: setup
	$(PY) -m pytest -q -m "slow or not slow" --durations=15

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

bench: setup
	$(PY) benchmarks/run_all.py

clean:
	rm -rf runs .pytest_cache
