"""Build a tiny CSLM-format checkpoint (and a tiny speech tokenizer) for tests, benchmarks and smoke runs.

The checkpoint has the released layout -- a LlamaForCausalLM, a fast tokenizer whose vocabulary carries the
4096 unit tokens as added tokens, ``<sosp>``/``<eosp>``, the Llama-3 header tokens and a chat template with
Llama-3.1's header structure -- but random weights and a BPE vocabulary trained on a few sentences. It runs
the whole adapter (units, prompts, generation, parsing, streaming) on CPU in seconds; its outputs mean
nothing. ``build_tiny_speech_tokenizer`` writes an ONNX model with the released CosyVoice v1 signature.
"""
from __future__ import annotations

from pathlib import Path

from models.cslm.units import DEFAULT_UNITS, SPAN_CLOSE, SPAN_OPEN, UNIT_FORMATS

BOS, EOT, EOS = "<|begin_of_text|>", "<|eot_id|>", "<|end_of_text|>"
HEADER_TOKENS = ["<|start_header_id|>", "<|end_header_id|>"]
PAD = "<|finetune_right_pad_id|>"

# Llama-3.1-Instruct's template reduced to what CSLM prompts use: BOS, the system block with its knowledge /
# date lines (no tools), one header + trimmed content + <|eot_id|> per message, optional generation prompt.
LLAMA31_TINY_TEMPLATE = (
    "{{- bos_token }}"
    "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content']|trim %}"
    "{%- set messages = messages[1:] %}{%- else %}{%- set system_message = \"\" %}{%- endif %}"
    "{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}"
    "{{- \"Cutting Knowledge Date: December 2023\\n\" }}"
    "{{- \"Today Date: 26 Jul 2024\\n\\n\" }}"
    "{{- system_message }}{{- \"<|eot_id|>\" }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim"
    " + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)

DEFAULT_CORPUS = [
    "Please directly answer the questions in the user's speech.",
    "Please answer the questions in the user's speech in English.",
    "This is input: the quick brown fox jumps over the lazy dog.",
    "Machine learning lets a model learn patterns from data and use them to predict.",
    "The weather is sunny today, so we will walk to the park after lunch.",
    "直接回答用户语音中的问题。", "用中文回答用户语音中的问题。", "这是输入:",
    "中国有多少个省？", "什么是机器学习？它有哪些应用场景？", "今天天气很好，我们去公园散步吧。",
]


# CJK ideographs (and compatibility ideographs): each is pre-tokenized alone, see build_tokenizer
CJK_CHAR = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"


def build_tokenizer(corpus: list[str] | None = None, unit_format: str = "angle", n_units: int = DEFAULT_UNITS,
                    vocab_size: int = 1000):
    """A byte-level BPE tokenizer trained on ``corpus`` plus the special, span and unit tokens.

    Chinese is split per character before BPE (each ideograph its own pre-token, so merges stop at one
    character): Chinese text has no spaces, and BPE left free merges whole clauses of a small corpus into one
    token (星期六去了悉尼), which a sentence outside that corpus never contains. Each newline is a pre-token of its
    own too: GPT-2's split reads "\n\n" as one piece at the end of a text but as "\n" + "\n" before a word, so
    with a "\n\n" merge a generation prompt (ending "<|end_header_id|>\n\n") would end in a token the training
    records (where the answer follows) never have there, and the model would not know how to start its answer.
    (Llama-3's own split keeps a newline run whole whatever follows.)"""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    specials = [BOS, EOS, EOT, PAD, *HEADER_TOKENS]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(CJK_CHAR + "|\n"), behavior="isolated"),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(list(corpus or DEFAULT_CORPUS) * 4, trainer=trainer)
    # Span markers and units are plain added tokens (not "special": skip_special_tokens keeps them), in one
    # block so unit ids are contiguous, as in the released merged vocabulary.
    fmt = UNIT_FORMATS[unit_format][0]
    tok.add_tokens([AddedToken(t, normalized=False) for t in (SPAN_OPEN, SPAN_CLOSE)])
    tok.add_tokens([AddedToken(fmt.format(i), normalized=False) for i in range(n_units)])
    # Llama-3's tokenizer prepends <|begin_of_text|> when add_special_tokens=True; so does this one.
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B",
                                                       special_tokens=[(BOS, bos_id)])
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOT, pad_token=PAD,
                                 additional_special_tokens=HEADER_TOKENS + [EOS])
    hf.chat_template = LLAMA31_TINY_TEMPLATE
    return hf


def build_tiny_cslm(out_dir: str | Path, corpus: list[str] | None = None, unit_format: str = "angle",
                    n_units: int = DEFAULT_UNITS, seed: int = 0, hidden: int = 64, layers: int = 2,
                    vocab_size: int = 1000, tied: bool = False) -> Path:
    """Write tokenizer + random tiny Llama (hidden 64, 2 layers, 4 heads, MLP 128) to ``out_dir``.

    With ``n_units=0`` it is a text-only model: the stand-in for Llama-3.1-8B-Instruct before merge-vocab.
    ``tied``: the LM head shares the input embeddings (Llama-3.1-8B does not; a small model may gain)."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(corpus, unit_format, n_units, vocab_size=vocab_size)
    tokenizer.save_pretrained(out)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in (BOS, EOT, EOS, PAD)}
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=4, intermediate_size=2 * hidden,
                         max_position_embeddings=4096, bos_token_id=ids[BOS], eos_token_id=[ids[EOT], ids[EOS]],
                         pad_token_id=ids[PAD], tie_word_embeddings=tied)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(bos_token_id=ids[BOS], eos_token_id=[ids[EOT], ids[EOS]],
                                               pad_token_id=ids[PAD])
    model.save_pretrained(out)
    return out


def build_tiny_speech_tokenizer(path: str | Path, n_units: int = DEFAULT_UNITS, seed: int = 0) -> Path:
    """An ONNX model with the signature of CosyVoice's ``speech_tokenizer_v1.onnx``.

    Inputs: ``feats`` float32 (1, 128, T) whisper log-mel; ``feats_length`` int32 (1,). Output: ``indices``
    int64 (1, T // 4) -- 25 units per second from 100 mel frames per second. A strided 1-channel conv,
    quantised into [0, n_units): deterministic, content-dependent, meaningless.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = [
        numpy_helper.from_array(rng.standard_normal((1, 128, 4)).astype(np.float32) * 0.1, "w"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.array([997.0], dtype=np.float32), "scale"),
        numpy_helper.from_array(np.array([n_units], dtype=np.int64), "n_units"),
        numpy_helper.from_array(np.array([4], dtype=np.int64), "hop"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"),
    ]
    nodes = [
        helper.make_node("Conv", ["feats", "w"], ["conv"], strides=[4], kernel_shape=[4]),
        helper.make_node("Squeeze", ["conv", "axis1"], ["score"]),
        helper.make_node("Abs", ["score"], ["abs"]),
        helper.make_node("Mul", ["abs", "scale"], ["scaled"]),
        helper.make_node("Floor", ["scaled"], ["floored"]),
        helper.make_node("Cast", ["floored"], ["as_int"], to=TensorProto.INT64),
        helper.make_node("Mod", ["as_int", "n_units"], ["ids"]),
        helper.make_node("Cast", ["feats_length"], ["len64"], to=TensorProto.INT64),
        helper.make_node("Div", ["len64", "hop"], ["n_out"]),
        helper.make_node("Slice", ["ids", "zero", "n_out", "axis1"], ["indices"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_speech_tokenizer",
        [helper.make_tensor_value_info("feats", TensorProto.FLOAT, [1, 128, "T"]),
         helper.make_tensor_value_info("feats_length", TensorProto.INT32, [1])],
        [helper.make_tensor_value_info("indices", TensorProto.INT64, [1, "T_out"])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by older onnxruntime builds too
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
