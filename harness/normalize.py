"""Text normalizers: the one place where reference and hypothesis text become scoring tokens.

Each normalizer has a name and a version (both written into results and cache keys) and turns text
into a list of tokens: words for English, characters for Chinese.

- ``whisper-en``: Whisper's EnglishTextNormalizer (the ASR-WER protocol for English).
- ``zh-cer``: tags and punctuation stripped, traditional→simplified, Arabic numbers written in Chinese,
  one token per Han character (Latin words stay whole, lower-cased).
- ``asr-default``: ``whisper-en`` for English, ``zh-cer`` for Chinese.
- ``seed-tts-eval``: the seed-tts-eval protocol exactly: punctuation (zhon's Chinese + ASCII) removed
  except the apostrophe, one double space reduced, English lower-cased, Chinese split per character,
  and the Chinese hypothesis converted to simplified Chinese (as its Paraformer step does).
- ``seed-tts-eval-numnorm``: the same plus number normalization (English via Whisper's number
  normalizer, Chinese via cn2an) — not the published protocol, so it has another name.
- ``uro-bench``: URO-Bench's WER/CER text (metrics/mark_wer.py): English as ``whisper-en`` (URO ships a copy of
  Whisper's EnglishTextNormalizer); Chinese with zhon's + ASCII punctuation removed (the apostrophe too), one
  double space reduced, lower-cased, Arabic numbers to Chinese by ``cn2an.transform(.., "an2cn")``, then one token
  per character, spaces included (jiwer.cer counts them), written "▁" so a token never splits.
"""
from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

_TAG = re.compile(r"<\|?[^<>]{0,40}\|?>|\[[^\[\]]{0,40}\]")     # <|zh|>, <unk>, [noise], [laughter]
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_OR_DIGIT_RUN = re.compile(r"[a-z0-9']+")
_ARABIC_NUMBER = re.compile(r"\d+(?:\.\d+)?%?")


@dataclass(frozen=True)
class Normalizer:
    name: str
    version: str
    tokenize: Callable[[str, str, str], list[str]]  # (text, lang, role) -> tokens; role: "ref" | "hyp"

    def __call__(self, text: str, lang: str, role: str = "ref") -> list[str]:
        return self.tokenize(text, lang, role)

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version}


class NormalizerError(ValueError):
    pass


@lru_cache(maxsize=1)
def _whisper_english():
    from whisper.normalizers import EnglishTextNormalizer  # openai-whisper's own normalizer

    return EnglishTextNormalizer()


@lru_cache(maxsize=1)
def _whisper_english_numbers():
    from whisper.normalizers.english import EnglishNumberNormalizer

    return EnglishNumberNormalizer()


def _to_simplified(text: str) -> str:
    import zhconv

    return zhconv.convert(text, "zh-cn")


def _numbers_to_chinese(text: str) -> str:
    import cn2an

    def convert(match: re.Match) -> str:
        token = match.group(0)
        try:
            if token.endswith("%"):
                return "百分之" + cn2an.an2cn(token[:-1], "low")
            if match.string[match.end():match.end() + 1] == "年" and token.isdigit():
                return "".join(cn2an.an2cn(d, "low") for d in token)  # years are read digit by digit
            return cn2an.an2cn(token, "low")
        except Exception:  # cn2an refuses some forms; leave them as written
            return token

    return _ARABIC_NUMBER.sub(convert, text)


def _strip_punctuation(text: str) -> str:
    # Unicode categories P* (punctuation) and S* (symbols) become spaces; the apostrophe stays.
    return "".join(" " if ch != "'" and unicodedata.category(ch)[0] in "PS" else ch for ch in text)


def _chinese_tokens(text: str) -> list[str]:
    text = _TAG.sub(" ", text)
    text = unicodedata.normalize("NFKC", text)
    text = _to_simplified(text)
    text = _numbers_to_chinese(text)
    text = _strip_punctuation(text).lower()
    tokens: list[str] = []
    for chunk in text.split():
        pos = 0
        for han in _HAN.finditer(chunk):
            tokens.extend(_LATIN_OR_DIGIT_RUN.findall(chunk[pos:han.start()]))
            tokens.append(han.group(0))
            pos = han.end()
        tokens.extend(_LATIN_OR_DIGIT_RUN.findall(chunk[pos:]))
    return tokens


def _whisper_en_tokens(text: str, lang: str, role: str) -> list[str]:
    return _whisper_english()(_TAG.sub(" ", text)).split()


def _zh_cer_tokens(text: str, lang: str, role: str) -> list[str]:
    return _chinese_tokens(text)


def _asr_default_tokens(text: str, lang: str, role: str) -> list[str]:
    if lang == "en":
        return _whisper_en_tokens(text, lang, role)
    if lang == "zh":
        return _chinese_tokens(text)
    raise NormalizerError(f"normalizer asr-default has no rule for language {lang!r} (en, zh)")


@lru_cache(maxsize=1)
def _seed_punctuation() -> str:
    from zhon.hanzi import punctuation

    return punctuation + string.punctuation


def _seed_tts_eval_text(text: str, lang: str, role: str) -> str:
    if lang == "zh" and role == "hyp":
        text = _to_simplified(text)
    for mark in _seed_punctuation():
        if mark != "'":
            text = text.replace(mark, "")
    text = text.replace("  ", " ")
    if lang == "zh":
        return " ".join(text)
    if lang == "en":
        return text.lower()
    raise NormalizerError(f"seed-tts-eval is defined for en and zh only, not {lang!r}")


def _seed_tts_eval_tokens(text: str, lang: str, role: str) -> list[str]:
    return _seed_tts_eval_text(text, lang, role).split()


def _seed_tts_eval_numnorm_tokens(text: str, lang: str, role: str) -> list[str]:
    if lang == "en":
        text = _whisper_english_numbers()(text)
    elif lang == "zh":
        text = _numbers_to_chinese(text)
    return _seed_tts_eval_tokens(text, lang, role)


def _uro_bench_tokens(text: str, lang: str, role: str) -> list[str]:
    if lang == "en":
        return _whisper_english()(text.strip().lower()).split()
    if lang != "zh":
        raise NormalizerError(f"uro-bench is defined for en and zh only, not {lang!r}")
    import cn2an

    for mark in _seed_punctuation():
        text = text.replace(mark, "")
    text = cn2an.transform(text.replace("  ", " ").strip().lower(), "an2cn")
    return ["\u2581" if ch == " " else ch for ch in text]


NORMALIZERS: dict[str, Normalizer] = {n.name: n for n in (
    Normalizer("whisper-en", "1", _whisper_en_tokens),
    Normalizer("zh-cer", "1", _zh_cer_tokens),
    Normalizer("asr-default", "1", _asr_default_tokens),
    Normalizer("seed-tts-eval", "1", _seed_tts_eval_tokens),
    Normalizer("seed-tts-eval-numnorm", "1", _seed_tts_eval_numnorm_tokens),
    Normalizer("uro-bench", "1", _uro_bench_tokens),
)}


def get_normalizer(name: str) -> Normalizer:
    try:
        return NORMALIZERS[name]
    except KeyError:
        raise NormalizerError(f"unknown normalizer {name!r}; available: {', '.join(NORMALIZERS)}") from None
