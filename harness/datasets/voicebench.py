"""VoiceBench's data (Hub dataset ``hlt-lab/voicebench``): one config and split per run, from the Hub or a local copy.

``--dataset voicebench --dataset-arg config=mmsu --dataset-arg split=law`` reads that split from the Hub (the commit
read is resolved first and recorded as ``revision``); ``--dataset-arg path=DIR`` reads the same parquet files from
a local folder laid out as the Hub repository is: ``DIR/<config>/<split>-NNNNN-of-NNNNN.parquet`` (every shard of the
split, in name order), e.g. ``DIR/sd-qa/usa-00000-of-00001.parquet``. Subsets, splits and evaluators:
harness/tasks/voicebench/data/subsets.json.

Items: id = the row's position in the split (so VoiceBench's own output files, one line per row in row order,
line up: ``--model precomputed --model-arg layout=voicebench``); text = the row's ``prompt`` (the transcript: for the
judge, never shown to the model); audio = the ``audio`` column's embedded bytes (decoded with soundfile downstream);
custom = every other column (reference, id, key, instruction_id_list, kwargs, ...), as stored.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.datasets.base import DatasetLoad, DatasetUnavailableError, ItemProblem
from harness.manifest import ManifestItem
from harness.options import ConfigError

REPO = "hlt-lab/voicebench"


def subsets() -> dict[str, Any]:
    from harness.tasks.voicebench import data_file

    return data_file("subsets.json")["subsets"]


def check_choice(config: str | None, split: str | None) -> str:
    """The split to read; a config or split VoiceBench does not have is a one-line error listing the choices."""
    table = subsets()
    if not config:
        raise ConfigError(f"dataset voicebench needs a subset: --dataset-arg config=NAME, one of {', '.join(table)}")
    if config not in table:
        raise ConfigError(f"dataset voicebench has no config {config!r}; choose one of {', '.join(table)}")
    if config == "mtbench":
        raise ConfigError("voicebench config mtbench is multi-turn (audio1, audio2, ...): VoiceBench has no scorer for "
                          "it and its main.py cannot run it; the single-turn voicebench tasks do not read it")
    splits = table[config]["splits"]
    if split is None:
        if splits is None or len(splits) > 1:
            raise ConfigError(f"voicebench config {config} has several splits: pass --dataset-arg split=NAME"
                              + (f", one of {', '.join(splits)}" if splits else ""))
        return splits[0]
    if splits is not None and split not in splits:
        raise ConfigError(f"voicebench config {config} has no split {split!r}; choose one of {', '.join(splits)}")
    return split


class VoiceBench:
    """One VoiceBench subset (config) and split; from the Hub, or ``path=DIR`` in the Hub's layout."""

    def __init__(self, config: str | None = None, split: str | None = None, path: str | None = None,
                 revision: str | None = None, repo: str = REPO, lang: str = "en"):
        self.split = check_choice(config, split)
        self.config, self.path, self.revision, self.repo, self.lang = config, path, revision, repo, lang
        self.name = f"voicebench/{config}/{self.split}"

    # -- reading ----------------------------------------------------------------------------------------
    def _local_files(self) -> list[Path]:
        root = Path(self.path).expanduser()
        if not root.is_dir():
            raise DatasetUnavailableError(f"dataset voicebench: {root} is not a folder; pass --dataset-arg path=DIR "
                                          f"holding <config>/<split>-*.parquet as the Hub repo {self.repo} does")
        folder = root / self.config
        if not folder.is_dir():
            found = sorted(p.name for p in root.iterdir() if p.is_dir())
            raise DatasetUnavailableError(f"dataset voicebench: no folder {folder} for config {self.config}; "
                                          f"{root} holds: {', '.join(found) or 'no folders'}")
        files = sorted(folder.glob(f"{self.split}-*.parquet"))
        if not files:
            found = sorted(p.name for p in folder.glob("*.parquet"))
            raise DatasetUnavailableError(f"dataset voicebench: no {self.split}-*.parquet in {folder} (the Hub's "
                                          f"name for split {self.split}); it holds: {', '.join(found) or 'nothing'}")
        return files

    def _local_rows(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        files = self._local_files()
        try:
            table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")
        except (OSError, pa.ArrowInvalid) as exc:
            raise DatasetUnavailableError(f"dataset voicebench: cannot read {files[0].parent}: {exc}") from None
        info = {"source": str(Path(self.path).expanduser()), "files": [f"{self.config}/{f.name}" for f in files],
                "revision": None, "revision_note": "local copy: the Hub commit it came from is not recorded in parquet"}
        return table.to_pylist(), info

    def _hub_rows(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        import datasets

        from harness.datasets.hub import cached_commit, resolve_commit

        commit = None
        try:
            commit = resolve_commit(self.repo, self.revision)
            ds = datasets.load_dataset(self.repo, self.config, split=self.split, revision=commit or self.revision)
        except Exception as exc:  # offline Hub, renamed split: one actionable message
            raise DatasetUnavailableError(
                f"dataset voicebench: could not load {self.repo!r} (config={self.config}, split={self.split}) from the "
                f"Hub: {type(exc).__name__}: {str(exc)[:300]}. Check the network/HF_ENDPOINT, or download the parquet "
                f"files and pass --dataset-arg path=DIR ({self.config}/{self.split}-*.parquet inside)") from None
        if "audio" in ds.column_names:
            ds = ds.cast_column("audio", datasets.Audio(decode=False))
        commit = commit or cached_commit(ds)
        return list(ds), {"source": f"hub:{self.repo}", "revision": commit or self.revision,
                          "revision_requested": self.revision or "main"}

    def load(self) -> DatasetLoad:
        rows, info = self._local_rows() if self.path else self._hub_rows()
        where = info.get("files", [self.repo])[0] if self.path else f"{self.repo}[{self.config}/{self.split}]"
        items, problems = [], []
        for index, row in enumerate(rows):
            item_id = str(index)
            audio = row.get("audio")
            audio_bytes = audio.get("bytes") if isinstance(audio, dict) else None
            if not audio_bytes:
                problems.append(ItemProblem(id=item_id, source=f"{where} row {index}", reason=(
                    "no embedded audio bytes in the 'audio' column" if "audio" in row else "the row has no 'audio' "
                    "column; VoiceBench's parquet files carry the question's audio there")))
                continue
            custom = {k: v for k, v in row.items() if k != "audio"}
            items.append(ManifestItem(id=item_id, audio=None, text=str(row.get("prompt") or ""), lang=self.lang,
                                      custom=custom, audio_bytes=audio_bytes))
        return DatasetLoad(items=items, problems=problems, info={
            "name": self.name, "hub_repo": self.repo, "config": self.config, "split": self.split, **info,
            "rows": len(rows), "items": len(items)})
