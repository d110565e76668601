"""Built-in datasets: the local BELLE-eval-S2S folder, our English text set, and Hub-hosted public sets."""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from harness.datasets.base import DatasetLoad, DatasetUnavailableError
from harness.datasets.local import read_manifest

BELLE_ENV = "BELLE_EVAL_S2S_DIR"


class BelleEvalS2S:
    """BELLE-eval-S2S: 250 spoken Chinese questions, from a local folder or the Hub.

    Where from, first match wins: ``path=`` (a raw folder with test.tsv + wav/, or a built folder with
    data/test-*.parquet, as ``python -m harness publish belle-eval-s2s --dry-run`` writes), ``repo=`` /
    ``revision=`` (the Hub), $BELLE_EVAL_S2S_DIR, then the released Hub dataset. Every source yields the
    same items in test.tsv order: id, text, lang "zh", and the same audio (a file path for a raw folder,
    the embedded WAV bytes otherwise).
    """

    DEFAULT_REPO = "ICTNLP/BELLE-eval-S2S"

    def __init__(self, path: str | None = None, repo: str | None = None, revision: str | None = None):
        from harness.options import ConfigError

        if path and (repo or revision):
            raise ConfigError("belle-eval-s2s: path= (a local folder) and repo=/revision= (the Hub) both say "
                              "where the data comes from; keep one")
        # Explicit arguments beat the environment: repo=/revision= ask for the Hub even when the env is set.
        self.path = path or (None if repo or revision else os.environ.get(BELLE_ENV))
        self.repo = repo or self.DEFAULT_REPO
        self.revision = revision

    def load(self) -> DatasetLoad:
        if self.path:
            return self._load_local(Path(self.path))
        return self._load_hub()

    def _load_local(self, root: Path) -> DatasetLoad:
        from harness.hub.belle_builder import BuildError, read_built

        if (root / "test.tsv").is_file():
            load = read_manifest(root / "test.tsv", lang="zh", audio_dir=root / "wav")
            load.info.update(name="belle-eval-s2s", kind="raw folder", path=str(root))
            return load
        if not any((root / "data").glob("test-*.parquet")):
            raise DatasetUnavailableError(
                f"belle-eval-s2s: {root} is neither a BELLE-eval-S2S folder (test.tsv + wav/) nor a built "
                f"one (data/test-*.parquet); pass --dataset-arg path=DIR or set {BELLE_ENV}=DIR")
        try:
            rows = read_built(root)
        except BuildError as exc:
            raise DatasetUnavailableError(f"belle-eval-s2s: {exc}") from None
        return self._from_rows(rows, where=str(root / "data"),
                               info={"kind": "built folder", "path": str(root)})

    def _load_hub(self) -> DatasetLoad:
        import datasets

        from harness.datasets.hub import cached_commit, resolve_commit

        commit = None
        try:
            # One request, no retries: a dead network fails fast, and pinning the commit makes the data read and
            # the revision recorded the same. Offline (None), datasets serves its cached copy (if any).
            commit = resolve_commit(self.repo, self.revision)
            ds = datasets.load_dataset(self.repo, split="test", revision=commit or self.revision)
            commit = commit or cached_commit(ds)
            ds = ds.cast_column("audio", datasets.Audio(decode=False))  # bytes, never torchcodec
        except Exception as exc:  # noqa: BLE001 - offline, unknown repo, no access: one actionable message
            raise DatasetUnavailableError(
                f"belle-eval-s2s needs its folder or the Hub, and could not load {self.repo!r} (revision "
                f"{self.revision or 'main'}) from the Hub: {type(exc).__name__}: {str(exc)[:300]}. Pass a "
                f"local copy: --dataset-arg path=DIR (a folder with test.tsv + wav/, or one built by `python "
                f"-m harness publish belle-eval-s2s --dry-run`) or set {BELLE_ENV}=DIR; to use a copy "
                f"cached by an earlier run, set HF_HUB_OFFLINE=1") from None
        return self._from_rows(ds, where=f"{self.repo}[test]",
                               info={"kind": "hub", "hub_repo": self.repo, "revision": commit or self.revision})

    @staticmethod
    def _from_rows(rows, where: str, info: dict) -> DatasetLoad:
        from harness.datasets.base import ItemProblem
        from harness.manifest import ManifestItem

        items, problems = [], []
        for index, row in enumerate(rows):
            item_id, text = str(row["id"]), str(row.get("text") or "").strip()
            audio = row.get("audio") or {}
            if not text or not audio.get("bytes"):
                problems.append(ItemProblem(id=item_id, source=f"{where}[{index}]",
                                            reason="empty text" if not text else "no embedded audio"))
                continue
            items.append(ManifestItem(id=item_id, audio=audio.get("path"), text=text, lang="zh",
                                      audio_bytes=audio["bytes"]))
        return DatasetLoad(items=items, problems=problems,
                           info={"name": "belle-eval-s2s", **info, "items": len(items)})


class EnglishTextSet:
    """24 everyday English sentences written for this project: offline TTS-WER input (no audio)."""

    def load(self) -> DatasetLoad:
        ref = resources.files("harness.datasets") / "data" / "tts_en_sentences.tsv"
        with resources.as_file(ref) as path:
            load = read_manifest(path, lang="en", require_audio=False)
        load.info.update(name="tts-en-sentences", source="harness/datasets/data/tts_en_sentences.tsv")
        return load
