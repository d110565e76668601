"""Hub datasets with an Audio column, read without decoding (soundfile + soxr do that downstream)."""
from __future__ import annotations

import re
from pathlib import Path

from harness.datasets.base import DatasetLoad, DatasetUnavailableError, ItemProblem
from harness.manifest import ManifestItem

_SHA = re.compile(r"[0-9a-f]{40}")


def resolve_commit(repo: str, revision: str | None) -> str | None:
    """The commit sha that ``revision`` (a branch, tag or sha; None: main) of dataset ``repo`` names now.

    One Hub request; loading at the returned sha makes the data read and the revision recorded the same.
    None in offline mode (HF_HUB_OFFLINE=1), where datasets serves its cached copy. Errors propagate.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.constants import is_offline_mode

    if is_offline_mode():
        return None
    return HfApi().dataset_info(repo, revision=revision).sha


def cached_commit(ds) -> str | None:
    """Offline, the commit of the cached copy datasets served: it caches a Hub dataset under
    ``<name>/<config>/<version>/<commit sha>/`` (datasets 5). None when the path does not hold one."""
    for entry in getattr(ds, "cache_files", None) or []:
        name = Path(entry["filename"]).parent.name
        if _SHA.fullmatch(name):
            return name
    return None


class HubAudioDataset:
    """A Hub dataset with an Audio column; repo, config, split and column names are options."""

    def __init__(self, repo: str, split: str, lang: str, config: str | None = None,
                 text_column: str = "text", audio_column: str = "audio", id_column: str | None = "id",
                 revision: str | None = None, name: str | None = None):
        self.repo, self.split, self.lang, self.config = repo, split, lang, config
        self.text_column, self.audio_column, self.id_column = text_column, audio_column, id_column
        self.revision, self.name = revision, name or repo

    def load(self) -> DatasetLoad:
        import datasets

        commit = None
        try:
            commit = resolve_commit(self.repo, self.revision)
            ds = datasets.load_dataset(self.repo, self.config, split=self.split, revision=commit or self.revision)
        except Exception as exc:  # offline Hub, missing repo, gated set: one actionable message
            raise DatasetUnavailableError(
                f"dataset {self.name}: could not load {self.repo!r} (config={self.config}, split={self.split}) "
                f"from the Hub: {type(exc).__name__}: {str(exc)[:300]}. Check the network/HF_ENDPOINT and "
                f"`hf auth login` for gated sets, or download it and pass a local copy with "
                f"--dataset local --dataset-arg path=MANIFEST") from None
        commit = commit or cached_commit(ds)
        if self.audio_column in ds.column_names:
            ds = ds.cast_column(self.audio_column, datasets.Audio(decode=False))
        items, problems = [], []
        for index, row in enumerate(ds):
            item_id = str(row[self.id_column]) if self.id_column and self.id_column in row else str(index)
            text = str(row.get(self.text_column) or "").strip()
            if not text:
                problems.append(ItemProblem(id=item_id, source=f"{self.repo}[{self.split}][{index}]",
                                            reason="empty reference text"))
                continue
            audio = row.get(self.audio_column) or {}
            items.append(ManifestItem(id=item_id, audio=audio.get("path"), text=text, lang=self.lang,
                                      audio_bytes=audio.get("bytes")))
        return DatasetLoad(items=items, problems=problems, info={
            "name": self.name, "hub_repo": self.repo, "config": self.config, "split": self.split,
            # The commit read (not datasets' builder version, always 0.0.0): resolved before loading, or offline
            # the cached copy's; the revision asked for only when neither is known.
            "revision": commit or self.revision, "revision_requested": self.revision or "main",
            "fingerprint": getattr(ds, "_fingerprint", None), "items": len(items)})
