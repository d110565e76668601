"""Interleaved chain-of-modality SFT data: TQ, TA1, SA1, TA2, SA2, ... (or the full layout for the ablation).

For each spoken dialogue (question speech + answer text + answer speech):
1. the answer speech is tokenized ONCE as a whole (the tokenizer is not causal: slicing its output keeps
   each unit's full context), giving raw 25 Hz units;
2. a CTC forced aligner gives word times on the same audio; the answer text is cut into chunks at
   punctuation (about 7 words); each chunk keeps the whitespace before its first word, so the chunk texts
   concatenate to the answer byte for byte (" went" and "went" are different BPE tokens: a chunk boundary
   must not change how a word is spelt);
3. chunk k's speech is units[round(t_{k-1} x 25) : round(t_k x 25)], t_k being the end of the chunk's last
   word (the first slice starts at 0, the last runs to the end); repeats are merged per slice;
4. the record's prompt is the CSLM decoding prompt of the answer language (``general`` when question and
   answer languages agree, ``cross`` when they differ), taken from the adapter's prompt table so training
   and evaluation use the same words.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from harness.audio import AudioError, item_audio
from harness.manifest import ManifestItem
from models.cslm.parsing import ANSWER_TAG, QUESTION_TAG  # the two markers the released sft.py adds
from models.cslm.units import SPAN_CLOSE, SPAN_OPEN
from training.aligner import AlignmentError, WordTime
from training.chunking import DEFAULT_CHUNK_SIZE, ChunkOptions, chunk_spans, span_texts, split_words
from training.cpt_data import BuildReport, format_units, merged_units
from training.sources import Row, RowError, RowProblem, UnitSource, audio_error_code

UNIT_RATE = 25  # units per second of the CosyVoice-300M-25Hz tokenizer

# word aligner: (16 kHz samples or None, words) -> word times; the production one is CTCEmissionModel.align
Aligner = Callable[[Any, Sequence[str]], list[WordTime]]


@dataclass(frozen=True)
class SFTOptions:
    layout: str = "interleaved"   # "interleaved": TQ TA1 SA1 TA2 SA2 ...; "full": TQ TA SA (ablation)
    chunk_size: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CHUNK_SIZE))  # words (zh: chars)
    max_chunk_size: int | None = None  # cut without punctuation after this many words (default 2 x size)
    unit_format: str = "angle"    # how units are written (see models.cslm.units.UNIT_FORMATS)
    with_question_text: bool = True  # start the response with TQ, the question's transcript
    max_units: int = 2048         # merged answer units; longer dialogues are refused
    max_seconds: float = 60.0     # answer audio longer than this is refused before alignment

    def __post_init__(self) -> None:
        if self.layout not in ("interleaved", "full"):
            raise ValueError(f"layout must be interleaved or full (got {self.layout!r})")


@dataclass(frozen=True)
class Chunk:
    text: str                # TA_k as written in the answer text, with the space before it: the chunks concatenate
                             # to the answer byte for byte
    units: list[int]         # SA_k, repeats merged
    start: int               # first 25 Hz unit index (raw, before merging)
    end: int                 # one past the last


def unit_index(seconds: float) -> int:
    return int(round(seconds * UNIT_RATE))


def interleave(answer_text: str, lang: str, words: list[tuple[str, int, int]], times: list[WordTime],
               raw_units: Sequence[int], options: SFTOptions) -> list[Chunk]:
    """Cut the answer into text chunks and the matching slices of the whole-utterance units.

    A chunk whose slice comes out empty (its words end within the same 40 ms frame as the previous
    chunk's) joins the next chunk, so every chunk has speech and no unit is lost or duplicated."""
    size = options.chunk_size.get(lang, options.chunk_size.get("en", 7))
    spans = chunk_spans([w for w, _, _ in words], ChunkOptions(size, options.max_chunk_size))
    n = len(raw_units)
    cuts = [0]
    for _a, b in spans[:-1]:
        cuts.append(min(max(unit_index(times[b - 1].end), cuts[-1]), n))
    cuts.append(n)
    groups: list[tuple[int, int, int, int]] = []  # (first word, end word, unit start, unit end)
    first_word, unit_start = 0, 0
    for (_a, b), hi in zip(spans, cuts[1:]):
        if hi > unit_start:
            groups.append((first_word, b, unit_start, hi))
            first_word, unit_start = b, hi
    if not groups:
        raise RowError("no_units", "the answer speech has no units")
    if first_word < len(words):  # trailing words whose slice is empty: they belong to the last chunk
        a, _b, lo, hi = groups[-1]
        groups[-1] = (a, len(words), lo, hi)
    texts = span_texts(answer_text, words, [(a, b) for a, b, _lo, _hi in groups])
    return [Chunk(text, merged_units(raw_units[lo:hi]), lo, hi) for text, (_a, _b, lo, hi) in zip(texts, groups)]


def render_response(question_text: str | None, answer_text: str, chunks: list[Chunk],
                    options: SFTOptions) -> str:
    """The assistant turn: ``[question]TQ[answer]`` then TA1<sosp>SA1<eosp>TA2<sosp>SA2<eosp>... (interleaved)
    or TA<sosp>SA<eosp> with the whole answer (full chain-of-modality)."""
    head = f"{QUESTION_TAG}{question_text}{ANSWER_TAG}" if question_text is not None else ""
    if options.layout == "full":
        units = merged_units([u for c in chunks for u in c.units])
        return f"{head}{answer_text.strip()}{SPAN_OPEN}{format_units(units, options.unit_format)}{SPAN_CLOSE}"
    return head + "".join(f"{c.text}{SPAN_OPEN}{format_units(c.units, options.unit_format)}{SPAN_CLOSE}"
                          for c in chunks)


def sft_prompt(question_units: list[int], question_lang: str, answer_lang: str, unit_format: str,
               table: dict | None = None) -> str:
    """The user turn, from the CSLM adapter's prompt table (general or cross-lingual decoding)."""
    from models.cslm.prompts import PromptBuilder, load_prompt_table

    task = "general" if question_lang == answer_lang else "cross"
    builder = PromptBuilder(None, None, table or load_prompt_table())
    return builder.user_turn(task, answer_lang, format_units(question_units, unit_format))


class SFTBuilder:
    """Builds interleaved (or full) chain-of-modality records from spoken dialogues.

    A dialogue row has ``question_text`` (TQ), ``question_lang``, ``answer_text``, ``answer_lang`` and either
    audio (``question_audio``/``answer_audio``, tokenized by the speech tokenizer stage) or units from a
    units file keyed ``<id>:question`` / ``<id>:answer``. Word times come from ``aligner`` (run on the answer
    audio) or from ``word_times`` (``{id: [WordTime, ...]}``, e.g. a file written by an earlier alignment).
    """

    def __init__(self, units: UnitSource, aligner: Aligner | None = None,
                 word_times: dict[str, list[WordTime]] | None = None, options: SFTOptions = SFTOptions(),
                 audio_dir: str | Path | None = None):
        if aligner is None and word_times is None:
            raise ValueError("interleaved SFT needs word times: give an aligner or a word-times file")
        self.units, self.aligner, self.word_times, self.options = units, aligner, word_times, options
        self.audio_dir = Path(audio_dir) if audio_dir is not None else None  # relative audio paths start here
        self.table = None

    def _utterance(self, row: Row, side: str) -> ManifestItem | None:
        f = row.fields
        audio = f.get(f"{side}_audio")
        if not audio:
            return None
        if self.audio_dir is not None and not Path(audio).is_absolute():
            audio = self.audio_dir / audio
        return ManifestItem(id=f"{row.id}:{side}", audio=str(audio), text=str(f.get(f"{side}_text") or ""),
                            lang=str(f.get(f"{side}_lang") or ""))

    def utterances(self, rows: list[Row]) -> list[ManifestItem]:
        """Every question/answer recording the builder will tokenize (the speech-tokenizer stage's input)."""
        return [item for row in rows for side in ("question", "answer")
                if (item := self._utterance(row, side)) is not None]

    def _units(self, row: Row, side: str) -> list[int]:
        inline = row.fields.get(f"{side}_units")
        if inline is not None:
            from training.sources import parse_unit_string

            return parse_unit_string(inline)
        try:
            return list(self.units.units(f"{row.id}:{side}", self._utterance(row, side)))
        except AudioError as exc:
            raise RowError(audio_error_code(exc), f"{side}: {exc}") from None

    def _times(self, row: Row, words: list[str]) -> list[WordTime]:
        if self.word_times is not None and row.id in self.word_times:
            times = self.word_times[row.id]
            if [t.word for t in times] != list(words):
                raise RowError("word_times", "the word-times entry does not match the answer's words")
            return times
        if self.aligner is None:
            raise RowError("word_times", f"no word times for {row.id}")
        item = self._utterance(row, "answer")
        if item is None:
            raise RowError("missing_audio", "answer audio is needed for alignment")
        try:
            audio = item_audio(item, 16000)
        except AudioError as exc:
            raise RowError(audio_error_code(exc), f"answer: {exc}") from None
        if audio.seconds > self.options.max_seconds:
            raise RowError("too_long", f"answer audio lasts {audio.seconds:.1f} s (max_seconds {self.options.max_seconds:g})")
        try:
            return self.aligner(audio.samples, words)
        except AlignmentError as exc:
            raise RowError("alignment", str(exc)) from None

    def record(self, row: Row) -> dict[str, Any]:
        f, opts = row.fields, self.options
        q_lang, a_lang = str(f.get("question_lang") or ""), str(f.get("answer_lang") or "")
        if not q_lang or not a_lang:
            raise RowError("format", "question_lang and answer_lang are required")
        answer_text = str(f.get("answer_text") or "").strip()
        question_text = str(f.get("question_text") or "").strip()
        if not answer_text:
            raise RowError("empty_text", "empty answer_text")
        if opts.with_question_text and not question_text:
            raise RowError("empty_text", "empty question_text (TQ); or build with with_question_text=False")
        q_units = merged_units(self._units(row, "question"))
        a_units = self._units(row, "answer")
        if not q_units or not a_units:
            raise RowError("no_units", "question or answer speech has no units")
        words = split_words(answer_text, a_lang)
        times = self._times(row, [w for w, _, _ in words])
        chunks = interleave(answer_text, a_lang, words, times, a_units, opts)
        if sum(len(c.units) for c in chunks) > opts.max_units:
            raise RowError("too_long", f"{sum(len(c.units) for c in chunks)} answer units, over max_units {opts.max_units}")
        if self.table is None:
            from models.cslm.prompts import load_prompt_table

            self.table = load_prompt_table()
        return {"id": f"sft-{row.id}", "kind": f"sft-{opts.layout}", "lang": a_lang, "question_lang": q_lang,
                "source": row.source,
                "prompt": sft_prompt(q_units, q_lang, a_lang, opts.unit_format, self.table),
                "response": render_response(question_text if opts.with_question_text else None,
                                            answer_text, chunks, opts),
                "chunks": [{"text": c.text, "start": c.start, "end": c.end, "units": len(c.units)} for c in chunks]}

    def build(self, rows: list[Row], problems: list[RowProblem]) -> tuple[list[dict], BuildReport]:
        report = BuildReport(f"sft-{self.options.layout}")
        for p in problems:
            report.refuse(p)
        records = []
        for row in rows:
            try:
                records.append(self.record(row))
            except RowError as exc:
                report.refuse(RowProblem(row.id, row.source, exc.code, str(exc)))
        report.written = len(records)
        return records, report
