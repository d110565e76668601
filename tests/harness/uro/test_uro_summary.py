"""URO's aggregation (evaluate.py::conclude): equal weight per set, every marginal, missing sets skipped."""
import pytest

from harness.datasets.uro_bench import BASIC_SETS
from harness.options import ConfigError
from harness.tasks.uro_layout import CATEGORY_KEYS, uro_summary


def test_categories_marginals_and_overall():
    scores = {"Repeat": 90.0, "GaokaoEval": 60.0, "MLC": 30.0, "AlpacaEval": 80.0, "Repeat-zh": 50.0,
              "Claude-zh": 70.0, "MLCpro-en": 10.0}
    s = uro_summary(scores)
    c = s["categories"]
    assert c["understanding_basic_en"] == 75.0 and c["reasoning_basic_en"] == 30.0 and c["oral_basic_en"] == 80.0
    assert c["basic_en"] == pytest.approx(65.0)          # (90 + 60 + 30 + 80) / 4: per set, not per category
    assert c["understanding"] == pytest.approx(200 / 3)  # Repeat, GaokaoEval, Repeat-zh
    assert c["reasoning"] == 20.0 and c["pro"] == 10.0 and c["pro_en"] == 10.0
    assert c["en"] == pytest.approx(54.0) and c["zh"] == 60.0
    assert s["overall"] == {"basic_en": pytest.approx(65.0), "basic_zh": 60.0, "pro_en": 10.0}
    assert s["final_score"] == pytest.approx(sum(scores.values()) / 7)
    assert list(c) == [k for k in CATEGORY_KEYS if k in c]  # evaluate.py's line order
    assert len(CATEGORY_KEYS) == 35


def test_every_basic_set_counts_once_and_mistakes_are_named():
    s = uro_summary({name: 50.0 for name in BASIC_SETS})
    assert s["set_counts"]["basic"] == 20 and s["set_counts"]["basic_zh"] == 10 and s["final_score"] == 50.0
    assert uro_summary({"Repeat": None})["final_score"] is None
    with pytest.raises(ConfigError, match="Did you mean"):
        uro_summary({"Alpacaeval": 1.0})
