"""``python -m harness publish DATASET --repo-id ORG/NAME [--private] [--dry-run [--out DIR]]``.

Builds the upload folder (card + parquet shards + checksums.sha256), then makes at most one commit:
files whose sha256 already matches the Hub are not sent, stale shards are deleted in the same commit,
and when nothing differs no commit is made at all. The token comes from ``huggingface_hub.get_token()``
(HF_TOKEN or the saved login) and is never printed; error text is scrubbed of it as well.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.cache import sha256_file
from harness.hub import belle_builder
from harness.hub.card import card_problems

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Publishable:
    build: Callable[..., belle_builder.Build]  # build(source, out, card=...) -> Build
    features: Callable[[], object]             # the datasets.Features the card must declare
    split: str
    source_env: str                            # env var naming the source folder
    card: Path                                 # default card, in this checkout


PUBLISHABLE = {
    "belle-eval-s2s": Publishable(build=belle_builder.build, features=belle_builder.features,
                                  split=belle_builder.SPLIT, source_env="BELLE_EVAL_S2S_DIR",
                                  card=REPO_ROOT / "BELLE-eval-S2S" / "README.md"),
}


@dataclass
class PublishResult:
    repo_id: str
    commit_url: str | None                            # None: the Hub already had the same files
    uploaded: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def remote_matches(remote, local_path: Path, local_sha256: str) -> bool:
    """Same content? LFS files carry their sha256; regular (small text) files their git blob id."""
    from huggingface_hub.utils import sha

    if remote is None:
        return False
    if getattr(remote, "lfs", None):
        return remote.lfs.sha256 == local_sha256
    return remote.blob_id == sha.git_hash(local_path.read_bytes())


def publish_folder(folder: Path, repo_id: str, *, token: str, private: bool = False,
                   revision: str | None = None, commit_message: str | None = None,
                   endpoint: str | None = None) -> PublishResult:
    """Upload ``folder`` (a build) to the dataset repo ``repo_id`` in one commit, or do nothing.

    ``endpoint`` defaults to huggingface_hub's (HF_ENDPOINT, else huggingface.co).
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from huggingface_hub.hf_api import RepoFile

    api = HfApi(endpoint=endpoint, token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    remote = {f.path: f for f in api.list_repo_tree(repo_id, repo_type="dataset", revision=revision,
                                                   recursive=True) if isinstance(f, RepoFile)}
    local = belle_builder.folder_files(folder) + [belle_builder.CHECKSUMS]
    changed = [name for name in local if not remote_matches(remote.get(name), folder / name,
                                                            sha256_file(folder / name))]
    # Only data shards are ours to delete: a README edit on the Hub or .gitattributes stay untouched.
    stale = sorted(p for p in remote if p.startswith("data/") and p not in local)
    if not changed and not stale:
        return PublishResult(repo_id, None)
    operations = [CommitOperationAdd(name, str(folder / name)) for name in changed]
    operations += [CommitOperationDelete(name) for name in stale]
    info = api.create_commit(repo_id, operations, repo_type="dataset", revision=revision,
                             commit_message=commit_message or f"Publish {len(changed)} file(s) with harness")
    return PublishResult(repo_id, info.commit_url, changed, stale)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m harness publish",
        description="Build a Hub dataset (card + parquet shards + checksums.sha256) and upload it in one "
                    "commit; nothing is committed when the Hub already has the same files.")
    p.add_argument("dataset", choices=sorted(PUBLISHABLE), help="dataset to publish")
    p.add_argument("--repo-id", help="Hub dataset repo, ORG/NAME (required unless --dry-run)")
    p.add_argument("--private", action="store_true", help="create the repo private (an existing repo keeps "
                                                          "its visibility)")
    p.add_argument("--dry-run", action="store_true", help="write the exact upload folder and stop")
    p.add_argument("--out", help="upload folder to write (default: build/hub/<dataset> with --dry-run, "
                                 "else a temporary folder)")
    p.add_argument("--source", help="source folder (default: $BELLE_EVAL_S2S_DIR)")
    p.add_argument("--card", help="dataset card (default: BELLE-eval-S2S/README.md of this checkout)")
    p.add_argument("--revision", help="existing branch to commit to (default: main)")
    p.add_argument("--commit-message")
    p.add_argument("--max-shard-mb", type=float, default=belle_builder.DEFAULT_MAX_SHARD_BYTES / 2 ** 20,
                   help="largest amount of audio per parquet shard, in MiB")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    spec = PUBLISHABLE[args.dataset]
    source = args.source or os.environ.get(spec.source_env)
    card = Path(args.card) if args.card else spec.card
    if not source:
        return _fail(f"no source folder: pass --source DIR or set {spec.source_env}=DIR")
    if not card.is_file():
        return _fail(f"dataset card {card} not found; pass --card PATH")
    if not args.dry_run and not args.repo_id:
        return _fail("--repo-id ORG/NAME is required (or use --dry-run)")
    token = None
    if not args.dry_run:
        from huggingface_hub import get_token

        token = get_token()
        if not token:
            return _fail("no Hugging Face token: set HF_TOKEN or run `hf auth login`")
    with tempfile.TemporaryDirectory(prefix="hub-publish-") as tmp:
        default_out = Path("build") / "hub" / args.dataset if args.dry_run else Path(tmp) / "upload"
        out = Path(args.out) if args.out else default_out
        try:
            build = spec.build(source, out, card=card, max_shard_bytes=int(args.max_shard_mb * 2 ** 20))
        except belle_builder.BuildError as exc:
            return _fail(str(exc))
        problems = card_problems(card, features=spec.features(), rows={spec.split: build.rows},
                                 shards=build.shards)
        if problems:
            return _fail(f"card {card} does not match the data:\n" + "\n".join(f"  - {p}" for p in problems))
        print(f"dataset: {args.dataset} ({build.rows} rows, {len(build.shards)} shard(s)) from {source}")
        if args.dry_run:
            print(f"dry run: wrote the upload folder {out}; nothing was sent")
            for name in build.files:
                print(f"  {name}  ({(out / name).stat().st_size} bytes)")
            return 0
        try:
            result = publish_folder(out, args.repo_id, token=token, private=args.private,
                                    revision=args.revision, commit_message=args.commit_message)
        except Exception as exc:  # noqa: BLE001 - HTTP/auth errors: one line, token scrubbed
            return _fail(f"publishing to {args.repo_id} failed: {type(exc).__name__}: {exc}", secret=token)
    print(f"repo: {result.repo_id} (dataset, revision {args.revision or 'main'})")
    if result.commit_url is None:
        print("up to date: the Hub already has these files; no commit made")
    else:
        print(f"commit: {result.commit_url}")
        print(f"uploaded: {', '.join(result.uploaded) or '-'}")
        if result.deleted:
            print(f"deleted stale: {', '.join(result.deleted)}")
    return 0


def _fail(message: str, secret: str | None = None) -> int:
    if secret:
        message = message.replace(secret, "***")
    print(f"error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
