"""Timing stamps and token counts from the token-id streamer, on scripted id streams."""
import torch

from models.cslm.streaming import UnitTimingStreamer
from models.cslm.units import detect_units


def run(vocab, ids, markers=(), ends=()):
    s = UnitTimingStreamer(vocab, set(markers), set(ends))
    s.put(torch.tensor([[1, 2, 3, 4]]))  # the prompt: ignored
    for i in ids:
        s.put(torch.tensor([i]))
    s.end()
    return s


def test_interleaved_vs_full_token_counts(tiny_tokenizer):
    vocab = detect_units(tiny_tokenizer)
    u = vocab.units_to_ids([1, 2, 3, 4]).tolist()
    text = tiny_tokenizer("one two three four five six", add_special_tokens=False)["input_ids"]
    eot = tiny_tokenizer.convert_tokens_to_ids("<|eot_id|>")
    interleaved = run(vocab, text[:2] + u[:2] + text[2:4] + u[2:] + [eot], ends={eot})
    full = run(vocab, text + u + [eot], ends={eot})
    ev_i, ev_f = interleaved.events, full.events
    assert ev_i["tokens_before_first_unit"] == 2 and ev_f["tokens_before_first_unit"] == len(text)
    assert ev_i["tokens_before_first_chunk_end"] == 4
    assert ev_f["tokens_before_first_chunk_end"] == len(text) + 4
    assert ev_f["total_tokens"] == len(text) + 5
    for ev in (ev_i, ev_f):
        times = [ev[k] for k in ("first_text_token", "first_unit", "first_chunk_end", "end")]
        assert all(t is not None for t in times) and times == sorted(times)
    assert eot not in interleaved.ids  # end tokens are not part of the output


def test_units_first_and_no_units(tiny_tokenizer):
    vocab = detect_units(tiny_tokenizer)
    sosp = tiny_tokenizer.convert_tokens_to_ids("<sosp>")
    units_only = run(vocab, [sosp] + vocab.units_to_ids([5, 6]).tolist(), markers={sosp}).events
    assert units_only["tokens_before_first_unit"] == 1 and units_only["first_text_token"] is None
    assert units_only["tokens_before_first_chunk_end"] == 3 and units_only["first_chunk_end"] == units_only["end"]
    text_only = run(vocab, tiny_tokenizer("hi", add_special_tokens=False)["input_ids"]).events
    assert text_only["first_unit"] is None and text_only["tokens_before_first_unit"] is None
    assert text_only["first_chunk_end"] is None and text_only["first_text_token"] is not None


def test_a_streaming_vocoder_renders_each_chunk_as_it_ends(tiny_tokenizer, tmp_path_factory):
    """With open_audio, the first chunk is rendered when the token after it arrives -- before the rest of the
    generation -- and the pieces are exactly what the vocoder's own chunked stream gives."""
    import numpy as np

    from models.codec.vocoder import CodecVocoder
    from tests.fixtures.codec import tiny_codec

    voc = CodecVocoder(str(tiny_codec(tmp_path_factory)))
    vocab = detect_units(tiny_tokenizer)
    text = tiny_tokenizer("one two three four", add_special_tokens=False)["input_ids"]
    first, second = list(range(0, 20)), list(range(20, 32))
    s = UnitTimingStreamer(vocab, skip_prompt=False, open_audio=voc.open_stream)
    for token in text[:2] + vocab.units_to_ids(first).tolist():
        s.push(token)
    assert s.audio.first_audio is None and not s.audio.pieces  # the chunk is not over yet
    s.push(text[2])
    assert s.audio.first_audio is not None and s.stamps["end"] is None  # rendered while generating
    for token in vocab.units_to_ids(second).tolist():
        s.push(token)
    s.end()
    ev = s.events
    assert ev["first_chunk_end"] <= ev["first_audio"] <= ev["end"] <= ev["audio_end"] and ev["stream"].complete
    assert ev["stream"].units == first + second
    expected = np.concatenate(list(voc.stream([first, second])))
    assert np.array_equal(ev["stream"].samples(), expected) and len(expected) == 32 * 640


def test_a_failing_stream_is_recorded_and_leaves_the_timing_alone(tiny_tokenizer):
    class Broken:
        def push(self, units):
            raise RuntimeError("vocoder exploded")

    vocab = detect_units(tiny_tokenizer)
    s = UnitTimingStreamer(vocab, skip_prompt=False, open_audio=Broken)
    for token in vocab.units_to_ids([1, 2, 3]).tolist():
        s.push(token)
    s.end()
    ev = s.events
    assert "vocoder exploded" in ev["stream_error"] and ev["first_audio"] is None and not ev["stream"].complete
    assert ev["tokens_before_first_chunk_end"] == 3
