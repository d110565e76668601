"""The duration model's promises without a codec build: its context is exactly what it says, streaming gives the
whole-utterance frames, every run gets at least one frame, and the decoding rules do what they claim."""
import numpy as np
import pytest
import torch

from models.codec.durations import DurationConfig, DurationModel, DurationNet, check_rounding, decode, pad


def model(rounding="carry", seed=0, **kw):
    torch.manual_seed(seed)
    cfg = DurationConfig(codes=32, dim=16, **{"first_left": 2, "lookahead": 2, "dilations": (1, 2),
                                              "unit_features": "learned", **kw})
    net = DurationNet(cfg)
    with torch.no_grad():  # a spread of classes, so rounding decisions actually vary
        net.head.bias.copy_(torch.linspace(2.0, -2.0, cfg.max_frames))
    return DurationModel(net, rounding)


def test_a_prediction_depends_on_exactly_its_context():
    m = model()
    cfg = m.cfg
    assert cfg.left_context == 2 + 2 * (1 + 2)
    units = np.random.default_rng(0).integers(0, 32, size=40)
    base = m.expected(units)
    i = 20
    for j in range(len(units)):
        changed = units.copy()
        changed[j] = (changed[j] + 1) % 32
        moved = m.expected(changed)[i] != base[i]
        inside = i - cfg.left_context <= j <= i + cfg.lookahead
        assert moved <= inside, j  # nothing outside [i - left_context, i + lookahead] changes run i
    assert len(base) == len(units) and (m.durations(units) >= 1).all()


@pytest.mark.parametrize("rounding", ["carry", "round", "argmax", "quantile:0.8"])
@pytest.mark.parametrize("chunk", [1, 3, 17])
def test_streamed_durations_equal_the_whole_utterance(rounding, chunk):
    m = model(rounding)
    units = np.random.default_rng(1).integers(0, 32, size=61)
    whole = m.expand(units)
    stream = m.stream()
    pieces = []
    for s in range(0, len(units), chunk):
        pieces.append(stream.push(units[s:s + chunk]))
        decided = stream.done
        assert decided == max(0, min(s + chunk, len(units)) - m.cfg.lookahead)  # only the look-ahead waits
    pieces.append(stream.finish())
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    assert len(whole) == m.durations(units).sum() >= len(units)


def test_decoding_rules():
    probs = np.array([[0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [0.6, 0.4, 0.0],
                      [0.95, 0.05, 0.0], [0.1, 0.2, 0.7]])  # expected 1.4 x 5, 1.05, 2.6
    expected = probs @ np.arange(1, 4)
    carried, left = decode(probs, "carry")
    assert carried.min() >= 1 and abs(carried.sum() - expected.sum()) <= 1  # the total stays the expected one
    assert carried.sum() + left == pytest.approx(expected.sum(), abs=0.01)  # (expectations quantized to 1/1024)
    assert decode(probs, "round")[0].tolist() == [1, 1, 1, 1, 1, 1, 3]
    assert decode(probs, "argmax")[0].tolist() == [1, 1, 1, 1, 1, 1, 3]
    assert decode(probs, "quantile:0.5")[0].tolist() == [1, 1, 1, 1, 1, 1, 3]  # the median
    assert decode(probs, "quantile:0.8")[0].tolist() == [2, 2, 2, 2, 2, 1, 3]  # a frame short costs 4x one too many
    assert decode(probs, "quantile:0.999")[0].tolist() == [2, 2, 2, 2, 2, 2, 3]  # never past the last class
    for bad in ("quantile", "quantile:1", "quantile:x", "floor", "carry:1"):
        with pytest.raises(ValueError, match="rounding"):
            check_rounding(bad)


def test_centroid_inputs_start_similar_units_alike():
    m = model(unit_features="centroids", feature_dim=4)
    centroids = np.zeros((32, 4), np.float32)
    centroids[:, 0] = np.arange(32)
    m.net.set_centroids(centroids)
    assert not m.net.embed.weight.requires_grad and m.net.embed.weight[32].abs().sum() == 0  # the boundary row
    assert (m.durations(np.arange(20) % 32) >= 1).all()
    restored = DurationNet(m.cfg)
    restored.load_state_dict(m.net.state_dict())  # the frozen centroids travel with the weights
    assert torch.equal(restored.embed.weight, m.net.embed.weight)


def test_boundaries_and_bad_ids():
    m = model()
    padded = pad([3, 4], m.cfg)
    assert padded.tolist() == [32] * m.cfg.left_context + [3, 4] + [32] * m.cfg.lookahead
    assert m.durations([]).tolist() == [] and m.expand([5]).size >= 1
    with pytest.raises(ValueError, match=r"\[0, 32\)"):
        m.durations([40])
    with pytest.raises(ValueError, match="rounding"):
        DurationModel(m.net, "floor")
