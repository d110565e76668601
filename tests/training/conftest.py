import os
from pathlib import Path

import pytest

# DeepSpeed compiles its CPU communication op once (about 40 s); keep it outside the repository.
os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(Path.home() / ".cache" / "torch_extensions"))

CORPUS = [
    "Please transcribe the user's speech into text. This is input:",
    "Please read the following text aloud. This is input:",
    "Please directly answer the questions in the user's speech. This is input:",
    "Please answer the questions in the user's speech in English. This is input:",
    "Translate the following Chinese text into English.",
    "red green blue yellow black white orange purple",
    "hello world good morning thank you very much",
    "请将用户语音转写为文字。 这是输入: 直接回答用户语音中的问题。 用中文回答用户语音中的问题。",
    "中国有多少个省？ 什么是机器学习？ 今天天气很好。",
]


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    from training.tiny_base import build_tiny_base

    return build_tiny_base(tmp_path_factory.mktemp("tiny") / "base", CORPUS)


@pytest.fixture(scope="session")
def tiny_merged(tiny_base, tmp_path_factory) -> Path:
    from training.vocab import merge_vocab

    out = tmp_path_factory.mktemp("tiny") / "merged"
    merge_vocab(str(tiny_base), out)
    return out


@pytest.fixture(scope="session")
def tiny_onnx_tokenizer(tmp_path_factory) -> Path:
    from models.cslm.tiny import build_tiny_speech_tokenizer

    return build_tiny_speech_tokenizer(tmp_path_factory.mktemp("tok") / "speech_tokenizer_v1.onnx")
