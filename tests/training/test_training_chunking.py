"""Chunks for interleaved chain-of-modality, checked on real sentences in English and Chinese."""
import pytest

from training.chunking import ChunkOptions, chunk_spans, chunk_text, split_words

EN = [
    ("The library opens at nine in the morning and closes at six in the evening.",
     ["The library opens at nine in the morning and closes at six in the evening."]),
    ("Machine learning is a field of artificial intelligence. It lets computers learn patterns from data, "
     "and it is used in speech recognition, translation, and recommendation systems.",
     ["Machine learning is a field of artificial intelligence.",
      " It lets computers learn patterns from data,", " and it is used in speech recognition,",
      " translation, and recommendation systems."]),
    ('Yes, I think so. "Really?" she asked, surprised that the answer came so quickly.',
     ['Yes, I think so. "Really?" she asked,', " surprised that the answer came so quickly."]),
]

ZH = [
    ("机器学习是人工智能的一个分支，它让计算机从数据中学习规律。常见的应用场景包括图像识别、语音识别和推荐系统。",
     ["机器学习是人工智能的一个分支，", "它让计算机从数据中学习规律。", "常见的应用场景包括图像识别、", "语音识别和推荐系统。"]),
    ("中国有三十四个省级行政区，包括二十三个省、五个自治区、四个直辖市和两个特别行政区。",
     ["中国有三十四个省级行政区，", "包括二十三个省、五个自治区、", "四个直辖市和两个特别行政区。"]),
    ("我最喜欢的季节是春天，因为可以看到美丽的花儿。", ["我最喜欢的季节是春天，因为可以看到美丽的花儿。"]),
    ("我用Python写了一个程序，它运行得很快。", ["我用Python写了一个程序，它运行得很快。"]),
]


@pytest.mark.parametrize("text,chunks", EN)
def test_english_chunks(text, chunks):
    assert chunk_text(text, "en") == chunks


@pytest.mark.parametrize("text,chunks", ZH)
def test_chinese_chunks(text, chunks):
    assert chunk_text(text, "zh") == chunks


def test_words_keep_punctuation_and_offsets():
    text = "我用Python写了一个程序，它运行得很快。"
    words = split_words(text, "zh")
    assert [w for w, _, _ in words][:4] == ["我", "用", "Python", "写"]
    assert words[-1][0] == "快。"
    assert all(text[a:b] == w for w, a, b in words)
    en = split_words('Hello, "world."  Bye', "en")
    assert [w for w, _, _ in en] == ["Hello,", '"world."', "Bye"]


def test_long_run_without_punctuation_is_cut_at_the_limit():
    words = [f"w{i}" for i in range(30)]
    spans = chunk_spans(words, ChunkOptions(size=7))
    assert [b - a for a, b in spans] == [14, 16]  # the 2-word tail joins the chunk before it
    assert [b - a for a, b in chunk_spans(words, ChunkOptions(size=7, max_size=10))] == [10, 10, 10]


def test_chunks_cover_every_word_once():
    for text, _ in EN + ZH:
        lang = "zh" if any("\u4e00" <= c <= "\u9fff" for c in text) else "en"
        words = split_words(text, lang)
        spans = chunk_spans([w for w, _, _ in words], ChunkOptions(size=5))
        assert spans[0][0] == 0 and spans[-1][1] == len(words)
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))


@pytest.mark.parametrize("text,lang", [(t, "en") for t, _ in EN] + [(t, "zh") for t, _ in ZH]
                         + [("  Two  spaces, then\ta tab.  ", "en"), ("我用 Python 写了，一个程序。", "zh")])
def test_chunks_concatenate_to_the_text_byte_for_byte(text, lang):
    for size in (1, 2, 5):
        chunks = chunk_text(text, lang, ChunkOptions(size=size))
        assert "".join(chunks).encode() == text.encode()
        if lang == "en":  # every chunk after the first starts with the space that precedes its first word
            assert all(c[0].isspace() for c in chunks[1:])
