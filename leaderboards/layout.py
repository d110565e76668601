"""The paper's layout as data: which tables, in which order, which metrics, how each is printed.

A task or metric missing here still gets a table (after the known ones, metrics in name order):
new tasks slot in by adding a row to these dicts, not by new code. The conversation and latency
entries follow the metric rows those tasks write (harness/tasks/s2s_metrics.py, latency.py); the
leaderboard tests exercise them only with schema-valid synthetic rows so far.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskLayout:
    title: str
    metrics: tuple[str, ...]      # column order; metrics not listed follow in name order
    note: str = ""                # one line under the table title
    # None: the headline metric rows only. A tuple: every row with one of these aggregations (latency's
    # p50 and p95 are both columns of the paper's table, though only p50 is a headline).
    aggregations: tuple[str, ...] | None = None
    only_listed: bool = False     # True: metrics not in `metrics` stay out of the table (still in the CSV)


@dataclass(frozen=True)
class MetricFormat:
    label: str
    scale: float = 1.0            # printed value = value * scale
    unit: str = ""
    better: str = "lower"         # "lower" | "higher": shown as an arrow in the header
    digits: int = 2


# Speech-quality metrics (harness.judges.quality), in column order: MOS predictors, then speaker similarity.
QUALITY = ("utmos", "dnsmos_ovrl", "dnsmos_p808", "distillmos", "sim_wavlm", "sim_resemblyzer")

TASK_LAYOUTS: dict[str, TaskLayout] = {
    "asr_wer": TaskLayout("ASR: WER (en) / CER (zh)", ("wer", "cer"),
                          "The model transcribes; corpus-level error rate (total edits / total reference tokens)."),
    "tts_wer": TaskLayout("TTS: WER of the synthesized speech (seed-tts-eval protocol)", ("wer", "cer", *QUALITY),
                          "An ASR judge transcribes the model's speech; mean of per-utterance error rates. Quality "
                          "columns (when judged): MOS predictors (1-5) and speaker similarity (cosine), means."),
    "tts_wer_numnorm": TaskLayout("TTS: WER with number normalization (not the published protocol)",
                                  ("wer", "cer", *QUALITY)),
    # Spoken conversation (LLM-judged; both channels: the text the model writes, the speech it says).
    "s2s_conversation": TaskLayout("Speech-to-speech conversation (mono-lingual, judge scale 1-5)",
                                   ("judge_score", "text_speech_wer", "text_speech_cer", *QUALITY),
                                   "LLM-judge score of the text channel and of the speech channel's transcript; "
                                   "text-vs-speech error rate: how far the speech strays from the model's own text."),
    "s2s_conversation_mtbench": TaskLayout("Speech-to-speech conversation (MT-Bench single-answer, scale 1-10)",
                                           ("judge_score", "text_speech_wer", "text_speech_cer", *QUALITY)),
    "s2s_cross": TaskLayout("Cross-lingual conversation (Chinese question, English answer)",
                            ("judge_score", "off_target_ratio", "text_speech_wer", "text_speech_cer", *QUALITY),
                            "Off-target: share of answers (whose language could be told) not in the asked language."),
    "s2s_cross_en2zh": TaskLayout("Cross-lingual conversation (English question, Chinese answer)",
                                  ("judge_score", "off_target_ratio", "text_speech_wer", "text_speech_cer", *QUALITY)),
    # A codec (tokenizer + vocoder) resynthesizing speech; its `merge` option renders the units as a speech LM
    # emits them (run-merged), one frame per run or expanded by a duration model (harness/tasks/resynthesis.py).
    "resynthesis": TaskLayout("Codec resynthesis (audio -> units -> vocoder -> ASR judge)",
                              ("wer", "cer", "duration_exact"),
                              "WER of the resynthesized speech, corpus (headline) and mean of per-utterance rates; "
                              "duration exact: share of runs rendered at their true length (merged units only).",
                              aggregations=("corpus", "mean-utterance", "mean"), only_listed=True),
    # Spoken QA scored against reference answers (harness.tasks.s2s_reference): per channel, then text-vs-speech.
    "s2s_reference_qa": TaskLayout("Spoken QA against reference answers",
                                   ("ref_exact_match", "ref_contains", "ref_wer", "ref_cer", "text_speech_wer",
                                    "text_speech_cer", *QUALITY),
                                   "Each channel (the text answer; the ASR judge's transcript of the spoken answer) "
                                   "against the item's reference answer; text-vs-speech: how far the speech strays "
                                   "from the model's own text."),
    "latency": TaskLayout("Latency", ("tokens_before_first_audio", "first_text_token_s", "first_unit_s",
                                      "first_audio_s", "rtf"),
                          "Seconds after the request; tokens before first audio is the hardware-free figure.",
                          aggregations=("p50", "p95"), only_listed=True),
}

METRIC_FORMATS: dict[str, MetricFormat] = {
    "wer": MetricFormat("WER", 100.0, "%"),
    "cer": MetricFormat("CER", 100.0, "%"),
    "judge_score": MetricFormat("judge score", better="higher"),
    "utmos": MetricFormat("UTMOS", better="higher"),
    "dnsmos_ovrl": MetricFormat("DNSMOS OVRL", better="higher"),
    "dnsmos_p808": MetricFormat("DNSMOS P.808", better="higher"),
    "dnsmos_sig": MetricFormat("DNSMOS SIG", better="higher"),
    "dnsmos_bak": MetricFormat("DNSMOS BAK", better="higher"),
    "distillmos": MetricFormat("DistillMOS", better="higher"),
    "sim_wavlm": MetricFormat("SIM (WavLM)", better="higher", digits=3),
    "sim_resemblyzer": MetricFormat("SIM (Resemblyzer)", better="higher", digits=3),
    "off_target_ratio": MetricFormat("off-target", 100.0, "%"),
    "duration_exact": MetricFormat("duration exact", 100.0, "%", better="higher"),
    # reference-answer scorer (harness.tasks.s2s_reference)
    "ref_exact_match": MetricFormat("exact match", 100.0, "%", better="higher"),
    "ref_contains": MetricFormat("contains answer", 100.0, "%", better="higher"),
    "ref_wer": MetricFormat("answer WER", 100.0, "%"),
    "ref_cer": MetricFormat("answer CER", 100.0, "%"),
    "text_speech_wer": MetricFormat("text-vs-speech WER", 100.0, "%"),
    "text_speech_cer": MetricFormat("text-vs-speech CER", 100.0, "%"),
    "malformed_ratio": MetricFormat("malformed", 100.0, "%"),
    "first_text_token_s": MetricFormat("first text", unit="s", digits=3),
    "first_unit_s": MetricFormat("first unit", unit="s", digits=3),
    "first_audio_s": MetricFormat("first audio", unit="s", digits=3),
    "tokens_before_first_audio": MetricFormat("tokens before audio", digits=1),
    "tokens_before_first_unit": MetricFormat("tokens before unit", digits=1),
    "rtf": MetricFormat("RTF", digits=3),
}

# Per-sample timing fields of latency samples.jsonl rows (read at top level or under "timing").
LATENCY_FIELDS = ("first_text_token_s", "first_unit_s", "first_audio_s")

LANG_ORDER = ("en", "zh")
QUALIFIER_ORDER = {"channel": ("text", "speech")}


def task_layout(task: str) -> TaskLayout:
    return TASK_LAYOUTS.get(task) or TaskLayout(f"Task {task}", ())


def metric_format(name: str) -> MetricFormat:
    if name in METRIC_FORMATS:
        return METRIC_FORMATS[name]
    if name.endswith("_s"):  # any timing metric: seconds, lower is better
        return MetricFormat(name[:-2].replace("_", " "), unit="s", digits=3)
    return MetricFormat(name.replace("_", " "), digits=4)  # unknown: printed as is


def task_order(task: str) -> tuple[int, str]:
    known = list(TASK_LAYOUTS)
    return (known.index(task) if task in known else len(known), task)


def _rank(value: str, order: tuple[str, ...]) -> tuple[int, str]:
    return (order.index(value) if value in order else len(order), value)


def column_order(task: str, metric: str, lang: str, qualifiers: tuple[tuple[str, str], ...],
                 aggregation: str, dataset: str) -> tuple:
    metrics = task_layout(task).metrics
    quals = tuple(_rank(v, QUALIFIER_ORDER.get(k, ())) for k, v in qualifiers)
    return (dataset, _rank(metric, metrics), _rank(lang, LANG_ORDER), quals, aggregation)


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "–"
    fmt = metric_format(metric)
    return f"{value * fmt.scale:.{fmt.digits}f}"
