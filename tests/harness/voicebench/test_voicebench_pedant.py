"""PEDANT (qa-metrics 0.2.17) as VoiceBench calls it, its classifier read from a folder without any network.

The real classifier files are fetched by qa-metrics from GitHub (not reachable here): the test over them runs only
when they are present ($VOICEBENCH_PEDANT_DIR, or qa-metrics' own classifier/ folder). The other tests build a
tiny classifier of the same kind (TF-IDF + logistic regression over PEDANT's own features) and load it through the
same path, so qa-metrics' evaluate() runs for real."""
import joblib
import pytest

from harness.tasks.voicebench import qa as qa_scorer


def tiny_classifier(folder):
    """lr_classifier.pkl + tf-idf_vectorizer.pkl trained on PEDANT's feature layout: '[CLS] cand [SEP] ref [SEP]
    question [SEP]' TF-IDF plus token F1, precision and recall."""
    from qa_metrics.utils.tools import calculate_f1_score_with_precision
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    pairs = [("paris france", "paris", "correct"), ("the city of paris", "paris", "correct"),
             ("eight legs", "eight", "correct"), ("london", "paris", "incorrect"), ("six", "eight", "incorrect"),
             ("i do not know", "paris", "incorrect")]
    texts = [f"[CLS] {c} [SEP] {r} [SEP] question [SEP]" for c, r, _ in pairs]
    vectorizer = TfidfVectorizer().fit(texts)
    f1 = [calculate_f1_score_with_precision(c, r) for c, r, _ in pairs]
    features = hstack([vectorizer.transform(texts), [[f, p, r] for f, p, r in f1]])
    model = LogisticRegression().fit(features, [label for _, _, label in pairs])
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "lr_classifier.pkl")
    joblib.dump(vectorizer, folder / "tf-idf_vectorizer.pkl")
    return folder


def test_loads_from_a_folder_and_scores_as_voicebench(tmp_path, monkeypatch):
    folder = tiny_classifier(tmp_path / "pedant")
    monkeypatch.setenv(qa_scorer.PEDANT_ENV, str(folder))
    assert qa_scorer.pedant_folder() == folder
    pedant, info = qa_scorer.load_pedant(str(folder))
    assert info["package"] == "qa-metrics 0.2.17" and set(info["classifier_sha256"]) == set(qa_scorer.PEDANT_FILES)
    # the reference inside the (normalized) answer: correct before any classifier
    assert qa_scorer.pedant_correct(pedant, "What is the capital of France?", "Paris", "It is PARIS, of course.")
    # otherwise the classifier decides (here the tiny one: no word overlap -> incorrect)
    assert qa_scorer.pedant_correct(pedant, "What is the capital of France?", "Paris", "London") is False


def test_missing_files_say_what_to_do(tmp_path):
    with pytest.raises(qa_scorer.PedantUnavailable, match=r"lr_classifier\.pkl, tf-idf_vectorizer\.pkl not in"):
        qa_scorer.load_pedant(str(tmp_path / "empty"))


def test_the_pinned_version_is_installed():
    from importlib.metadata import version

    assert version("qa-metrics") == qa_scorer.PEDANT_VERSION


def test_real_classifier_when_present():
    folder = qa_scorer.pedant_folder()
    if folder is None or not all((folder / f).is_file() for f in qa_scorer.PEDANT_FILES):
        pytest.skip("PEDANT's classifier files are absent (qa-metrics fetches them from GitHub, unreachable here); "
                    "set VOICEBENCH_PEDANT_DIR to a folder holding lr_classifier.pkl and tf-idf_vectorizer.pkl")
    pedant, _ = qa_scorer.load_pedant(str(folder))
    assert qa_scorer.pedant_correct(pedant, "who wrote 1984?", "George Orwell", "It was written by George Orwell.")
    assert not qa_scorer.pedant_correct(pedant, "who wrote 1984?", "George Orwell", "I like turtles.")
