"""Multi-turn conversations: a dialogue runs round by round, each round fed the model's OWN earlier answers.

A multi-turn manifest item carries ``custom["turns"]``: [{round, audio, text, reference}, ...] in round order
(harness.datasets.uro_bench reads URO-Bench's multi-round sets so). The respond stage of a multi-turn task calls
the model once per round with ``history=[Turn(user audio, the model's Response), ...]`` (harness.model: a model
declares ``"history"`` in ``wants``); the dataset's reference answers are never fed back (URO-Bench B.6). A model
that takes no history is refused before anything runs (``check_multi_turn``): giving it each round alone would
score a different task.

Record of one dialogue: ``{"turns": [{round, text, units, events, malformed, audio | speech_error, ...}]}``. A round
that raises fails the whole dialogue (its later rounds would lack their history): the error names the round.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.audio import read_audio
from harness.errors import MEASUREMENT, CodedError
from harness.failures import mark
from harness.model import HISTORY, turn_kwargs
from harness.options import ConfigError
from harness.response import Turn
from harness.tasks.wer import transcribe_batch


def check_multi_turn(model: Any, what: str) -> None:
    """Refuse (plan time, exit 2) a model that cannot hold a conversation for the multi-turn set ``what``."""
    if HISTORY not in getattr(model, "wants", ()):
        raise ConfigError(f"{what} is a multi-turn set, and model {model.name} takes no conversation history (its "
                          f"adapter declares no 'history' in wants); pick a model that holds a dialogue (cslm, "
                          f"cascade, precomputed with multi-turn outputs)")


def round_name(item_id: str, rnd: int) -> str:
    """The label of one round's answer (wav names, messages): URO's chat_<round> under the dialogue's id."""
    return f"{item_id}.chat_{rnd}"


def _round_failure(exc: BaseException, rnd: int) -> BaseException:
    """The dialogue's failure: the round's error, its code and kind kept, the round named."""
    code = getattr(exc, "code", type(exc).__name__)
    return CodedError(code, f"round {rnd}: {exc}", kind=getattr(exc, "kind", None))


def _one_round(task, items: list, audios: list, histories: list[list[Turn]], rnd: int) -> list[Any]:
    """Every active dialogue's answer in round ``rnd``: one respond_batch call when the model has one, else
    respond() per dialogue (a Response or the exception, per dialogue)."""
    model = task.model
    langs = [task.answer_lang(item) for item in items]
    if hasattr(model, "respond_batch"):
        return model.respond_batch(audios, task.instruction, langs, histories=histories)
    answers: list[Any] = []
    for item, audio, lang, history in zip(items, audios, langs, histories):
        try:
            answers.append(model.respond(audio, task.instruction, lang,
                                         **turn_kwargs(model, item, item.custom["turns"][rnd]["text"], history)))
        except Exception as exc:  # this dialogue fails alone, with its reason
            answers.append(exc)
    return answers


def respond_dialogues(task, items: list, ctx) -> list[Any]:
    """The respond stage of a multi-turn task: per dialogue its record (see module doc) or the exception."""
    model = task.model
    out: list[Any] = [None] * len(items)
    audios: dict[int, list] = {}
    for pos, item in enumerate(items):
        try:
            audios[pos] = [read_audio(turn["audio"], model.input_sample_rate, task.audio_policy).samples
                           for turn in item.custom["turns"]]
        except Exception as exc:  # an unreadable question is the measurement's problem, not the model's
            out[pos] = mark(exc, MEASUREMENT)
    histories: dict[int, list[Turn]] = {pos: [] for pos in audios}
    records: dict[int, list[dict]] = {pos: [] for pos in audios}
    for rnd in range(max((len(a) for a in audios.values()), default=0)):
        active = [pos for pos in audios if out[pos] is None and rnd < len(audios[pos])]
        if not active:
            break
        answers = _one_round(task, [items[p] for p in active], [audios[p][rnd] for p in active],
                             [list(histories[p]) for p in active], rnd)
        for pos, response in zip(active, answers):
            if isinstance(response, BaseException):
                out[pos] = _round_failure(response, rnd)
                continue
            histories[pos].append(Turn(audios[pos][rnd], response))  # the model's own answer, never a reference
            record = {"round": rnd, "text": response.text or "", "units": list(response.units),
                      "events": dict(response.events), "malformed": response.malformed, "audio": None}
            record.update(task._answer_audio(response, items[pos], ctx, name=round_name(items[pos].id, rnd)))
            records[pos].append(record)
    for pos in audios:
        if out[pos] is None:
            out[pos] = {"turns": records[pos]}
    return out


def transcribe_dialogues(task, items: list, upstream, ctx) -> list[Any]:
    """Each round's spoken answer through the answer language's ASR judge: ``{"turns": [text | None]}``, None
    for a round without speech (URO's ASR writes " " for a missing chat_<round>.wav)."""
    out: list[Any] = [None] * len(items)
    texts: dict[int, list] = {}
    jobs: dict[str, list[tuple[int, int, Any]]] = defaultdict(list)  # lang -> (item position, round, pseudo item)
    for pos, item in enumerate(items):
        turns = upstream["respond"][item.id]["turns"]
        texts[pos] = [None] * len(turns)
        for rnd, turn in enumerate(turns):
            if turn.get("audio"):
                jobs[task.answer_lang(item)].append((pos, rnd, replace(item, id=round_name(item.id, rnd),
                                                                       audio=turn["audio"])))
    for lang, batch in jobs.items():
        judge = task.judges[lang]

        def load(pseudo, judge=judge):
            return read_audio(Path(ctx.output_dir) / pseudo.audio, judge.input_sample_rate, task.answer_policy)

        results = transcribe_batch(judge, [p for _, _, p in batch], lang, load, load_fails_as=MEASUREMENT)
        for (pos, rnd, _), result in zip(batch, results):
            if isinstance(result, BaseException):
                out[pos] = out[pos] or _round_failure(mark(result, MEASUREMENT), rnd)
            else:
                texts[pos][rnd] = result["text"]
    return [out[pos] or {"turns": texts[pos]} for pos in range(len(items))]
