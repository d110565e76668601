"""Where a CSLM checkpoint comes from: the released Hub ids (in one place), or any local folder.

Resolution happens at construction and is cheap (a cache lookup, or one metadata request): the commit it
pins goes into describe() -- and so into cache keys -- before any weight is read, and the weights loaded
later are exactly that commit. Offline without a local copy, the error says how to point at a folder.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from harness.model import ModelConfigError
from models.common import hub_offline

# Optional file in a checkpoint folder: {"generation": {option: value}} decoding defaults written by
# training/ (e.g. prompt_mode); explicit --model-arg values win.
CSLM_DEFAULTS_FILE = "cslm_harness.json"

HUB_IDS = {"cslm-sft": "ICTNLP/CSLM-SFT", "cslm-base": "ICTNLP/CSLM-base"}  # released checkpoints
IGNORE_PATTERNS = ["original/*", "*.pth"]  # Meta-format duplicates some Llama repos carry
SMALL_FILE = 64 << 20  # weight files under this size are hashed by content, larger ones by name and size


@dataclass(frozen=True)
class Checkpoint:
    source: str           # hub id or local path, as the user named it
    revision: str         # commit sha (Hub / HF-cache snapshot) or "sha256:<16 hex>" folder fingerprint
    local_dir: Path | None  # known folder; None until a Hub snapshot is fetched by load()
    hub_id: str | None = None

    def fetch(self) -> Path:
        """The folder with the weights (downloads the pinned Hub commit if needed)."""
        if self.local_dir is not None:
            return self.local_dir
        from huggingface_hub import snapshot_download

        try:
            return Path(snapshot_download(self.hub_id, revision=self.revision, ignore_patterns=IGNORE_PATTERNS))
        except Exception as exc:  # noqa: BLE001 -- network, auth, cache misses: one how-to
            raise ModelConfigError(_offline_message(self.hub_id, exc)) from None


def _offline_message(hub_id: str, exc: BaseException) -> str:
    reason = str(exc).split(". ")[0][:160]
    return (f"cannot get {hub_id} from the Hugging Face Hub and no local copy is cached ({type(exc).__name__}: "
            f"{reason}). Download it where the Hub is reachable (huggingface-cli download {hub_id} "
            f"--local-dir DIR), then pass --model-path DIR (or --model-arg path=DIR)")


def folder_fingerprint(folder: Path) -> str:
    """Revision of a local checkpoint: sha256 over configs, tokenizer files and weights (small ones by content)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        size = path.stat().st_size
        digest.update(f"{path.name}\0{size}\0".encode())
        if path.suffix in (".json", ".txt", ".model", ".jinja") or size < SMALL_FILE:
            digest.update(path.read_bytes())
    return "sha256:" + digest.hexdigest()[:16]


def resolve(name: str, path: str | None, revision: str | None) -> Checkpoint:
    if path:
        folder = Path(path).expanduser()
        if not (folder / "config.json").is_file():
            raise ModelConfigError(f"{name}: {folder} is not a checkpoint folder (no config.json)")
        folder = folder.resolve()
        if revision:
            raise ModelConfigError(f"{name}: revision= applies to Hub checkpoints, not to the folder {folder}")
        # A Hugging Face cache snapshot names its commit; any other folder is fingerprinted.
        commit = folder.name if folder.parent.name == "snapshots" and re.fullmatch(r"[0-9a-f]{40}", folder.name) \
            else folder_fingerprint(folder)
        return Checkpoint(str(folder), commit, folder)
    if name not in HUB_IDS:
        raise ModelConfigError(f"{name} is a local-checkpoint model: pass --model-path DIR (or --model-arg "
                               f"path=DIR); released checkpoints: {', '.join(sorted(HUB_IDS))}")
    hub_id = HUB_IDS[name]
    from huggingface_hub import snapshot_download

    try:  # a cached snapshot answers offline
        cached = Path(snapshot_download(hub_id, revision=revision, local_files_only=True,
                                        ignore_patterns=IGNORE_PATTERNS))
        return Checkpoint(hub_id, cached.name, cached, hub_id)
    except Exception as exc:  # noqa: BLE001 -- network, auth, cache misses: one how-to
        if hub_offline():
            raise ModelConfigError(_offline_message(hub_id, exc)) from None
    try:
        from huggingface_hub import HfApi

        sha = HfApi().model_info(hub_id, revision=revision, timeout=20).sha
    except Exception as exc:  # noqa: BLE001 -- network, auth, cache misses: one how-to
        raise ModelConfigError(_offline_message(hub_id, exc)) from None
    return Checkpoint(hub_id, sha, None, hub_id)
