"""Build a codec folder from a recipe, step by step; every step skips what an earlier run already finished.

    1 sentences   work/sentences.txt (seeded templates, then frequent-word sentences; the held-out 24 excluded)
    2 speech      work/en/NNNNN.npy (Piper, 16 kHz, ``workers`` processes); BELLE wavs read in place (rows after
                  the held-out ones)
    3 features    work/features/<corpus>-<group>.npz: 25 Hz encoder features, each utterance alone (as at
                  inference), one group per process
    4 tokenizer   feature_norm.npy (per-dimension mean, std) + centroids.npy (mini-batch k-means on the
                  standardized sample, seeded, one thread, 10 passes)
    5 vocoder     work/vocoder-ckpt.pt during training (resumable), then vocoder.pt
    6 durations   work/durations-ckpt.pt during training (resumable), then durations.pt: frames per run of merged
                  units (models.codec.durations), trained on the un-merged units of the codec's own training
                  utterances (English Piper + the BELLE clips; a seeded 5 % kept out to measure the fit)
    codec.json last, naming every weight file with its sha256.
work/recipe.json records what decided each step: a rerun with other data settings is refused (use a new
output_dir); other tokenizer settings redo steps 4-6, other vocoder settings step 5, other duration settings
step 6. A codec built before step 6 existed resumes by running step 6 alone; its codec.json stays as it was
(complete and consistent, without durations) until the new one replaces it.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from models.codec.bundle import CENTROIDS, DURATIONS, FEATURE_NORM, MANIFEST, VOCODER, nearest, write_manifest
from training.codec.corpus import belle_wavs, heldout_sentences, load_16k, synthesize_english
from training.codec.recipe import CodecRecipe, CodecRecipeError
from training.codec.sentences import distinct_words, frequent_word_sentences, generate, vocabulary_size

GROUP = 48  # utterances per features file


class CodecBuilder:
    def __init__(self, recipe: CodecRecipe, progress: bool = True):
        self.recipe = recipe
        self.out = Path(recipe.output_dir)
        self.work = self.out / "work"
        self.progress = progress
        self.report_path = self.work / "report.json"
        self.report = json.loads(self.report_path.read_text()) if self.report_path.is_file() else {}

    def _bar(self, **kw):
        return tqdm(disable=not self.progress, dynamic_ncols=True, **kw)

    def _save_report(self):
        tmp = self.report_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.report, indent=2, sort_keys=True))
        tmp.replace(self.report_path)

    def _timed(self, name: str, fn):
        start = time.perf_counter()
        result = fn()
        seconds = round(time.perf_counter() - start, 1)
        self.report.setdefault("seconds", {})[name] = round(self.report.get("seconds", {}).get(name, 0) + seconds, 1)
        self._save_report()
        return result

    # -- steps --------------------------------------------------------------------------------
    def sentences(self) -> list[str]:
        path = self.work / "sentences.txt"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            r = self.recipe
            heldout = heldout_sentences()
            texts = generate(r.en_sentences, r.seed, exclude=heldout)
            if r.en_word_sentences:
                texts += frequent_word_sentences(r.en_word_sentences, r.seed, r.word_list_top,
                                                 exclude=heldout + texts)
            assert not set(texts) & set(heldout)
            path.write_text("\n".join(texts) + "\n", encoding="utf-8")
        return path.read_text(encoding="utf-8").splitlines()

    def speech(self, sentences: list[str]) -> dict[str, list[Path]]:
        r = self.recipe
        with self._bar(total=len(sentences), desc="piper speech") as bar:
            en = synthesize_english(sentences, self.work / "en", r.piper_voice, r.length_scales, bar, r.workers)
        belle = r.belle_folder()
        zh = belle_wavs(belle, r.belle_skip, r.belle_count) if belle else []
        return {"en": en, "zh": zh}

    def features(self, corpora: dict[str, list[Path]]) -> dict[str, list[np.ndarray]]:
        folder = self.work / "features"
        folder.mkdir(parents=True, exist_ok=True)
        groups = [(folder / f"{corpus}-{g // GROUP:04d}.npz", paths[g:g + GROUP])
                  for corpus, paths in corpora.items() for g in range(0, len(paths), GROUP)]
        todo = [(str(file), [str(p) for p in paths]) for file, paths in groups if not file.is_file()]
        total = sum(len(p) for p in corpora.values())
        with self._bar(total=total, initial=total - sum(len(p) for _, p in todo), desc="encode") as bar:
            if self.recipe.workers <= 1:
                for file, paths in todo:
                    bar.update(_encode_group(file, paths))
            else:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor, as_completed

                with ProcessPoolExecutor(self.recipe.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                    for done in as_completed([pool.submit(_encode_group, f, p) for f, p in todo]):
                        bar.update(done.result())
        out: dict[str, list[np.ndarray]] = {corpus: [] for corpus in corpora}
        for file, _ in groups:
            with np.load(file) as data:
                out[file.stem.rsplit("-", 1)[0]].extend(
                    data[f"arr_{i}"].astype(np.float32) for i in range(len(data.files)))
        self.report["features"] = {c: {"utterances": len(f), "units": int(sum(len(a) for a in f))}
                                   for c, f in out.items()}
        return out

    def tokenizer(self, feats: dict[str, list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray | None]:
        path, norm_path = self.out / CENTROIDS, self.out / FEATURE_NORM
        if path.is_file():
            return np.load(path), (np.load(norm_path) if norm_path.is_file() else None)
        from sklearn.cluster import MiniBatchKMeans
        from threadpoolctl import threadpool_limits

        r = self.recipe
        data = np.concatenate([a for f in feats.values() for a in f])
        norm = None
        if r.standardize:
            norm = np.stack([data.mean(axis=0), data.std(axis=0) + 1e-6]).astype(np.float32)
            data = (data - norm[0]) / norm[1]
        rng = np.random.default_rng(r.seed)
        if len(data) > r.kmeans_vectors:
            data = data[np.sort(rng.choice(len(data), r.kmeans_vectors, replace=False))]
        if len(data) < r.codes:
            raise ValueError(f"{len(data)} feature vectors cannot fit {r.codes} codes: more speech or fewer codes")
        with threadpool_limits(1):
            km = MiniBatchKMeans(n_clusters=r.codes, random_state=r.seed, batch_size=4096, n_init=1, max_iter=10,
                                 max_no_improvement=None, reassignment_ratio=0.01).fit(data)
        if norm is not None:
            _save_npy(norm_path, norm)
        _save_npy(path, km.cluster_centers_.astype(np.float32))  # last: its presence means the step is done
        self.report["kmeans"] = {"vectors": int(len(data)), "codes": r.codes, "inertia": float(km.inertia_),
                                 "standardized": norm is not None}
        return np.load(path), norm

    def vocoder(self, paths: list[Path], feats: list[np.ndarray], centroids: np.ndarray,
                norm: np.ndarray | None) -> dict:
        from models.codec.mel import Mel
        from models.codec.net import NetConfig
        from training.codec.train_vocoder import train_vocoder

        r, v = self.recipe, self.recipe.vocoder
        net_config = NetConfig(codes=r.codes, dim=v.dim, dilations=tuple(v.dilations))
        if (self.out / VOCODER).is_file() and self.report.get("vocoder", {}).get("steps_done") == v.steps:
            return self.report["vocoder"]
        mel = Mel()
        cache = self.work / "stream.npz"
        if cache.is_file():
            with np.load(cache) as data:
                units, mels = data["units"], data["mels"]
        else:
            all_units, all_mels = [], []
            for p, f in zip(tqdm(paths, desc="units + mels", disable=not self.progress), feats):
                u = nearest(f, centroids, norm)
                m = mel.log_mel(load_16k(p))
                want = len(u) * net_config.upsample
                m = np.concatenate([m, np.repeat(m[-1:], max(0, want - len(m)), axis=0)])[:want]
                all_units.append(u)
                all_mels.append(m)
            units, mels = np.concatenate(all_units), np.concatenate(all_mels).astype(np.float32)
            np.savez(cache, units=units, mels=mels)
        summary = train_vocoder(units, mels, net_config, v, r.seed, self.work / "vocoder-ckpt.pt", self._bar)
        import torch

        if summary["stopped_early"]:
            print(f"vocoder: stopped after {summary['steps_done']}/{v.steps} steps (max_minutes); rerun to go on")
        tmp = self.out / f".{VOCODER}.tmp"
        torch.save(summary.pop("net").state_dict(), tmp)
        tmp.replace(self.out / VOCODER)
        self.report["vocoder"] = {**summary, "training_units": int(len(units)),
                                  "training_hours": round(len(units) / 25 / 3600, 3)}
        self.net_config = net_config
        return self.report["vocoder"]

    def durations(self, feats: dict[str, list[np.ndarray]], centroids: np.ndarray, norm: np.ndarray | None) -> dict:
        from models.codec.durations import DurationConfig
        from training.codec.train_durations import train_durations

        r, d = self.recipe, self.recipe.durations
        if (self.out / DURATIONS).is_file() and self.report.get("durations", {}).get("steps_done") == d.steps:
            return self.report["durations"]
        config = DurationConfig(codes=r.codes, dim=d.dim, first_left=d.first_left, lookahead=d.lookahead,
                                dilations=tuple(d.dilations), max_frames=d.max_frames, unit_features=d.unit_features,
                                feature_dim=int(centroids.shape[1]))
        utterances = [nearest(f, centroids, norm) for corpus in sorted(feats) for f in feats[corpus]]
        summary = train_durations(utterances, config, d, r.seed, self.work / "durations-ckpt.pt", self._bar,
                                  centroids=centroids)
        import torch

        tmp = self.out / f".{DURATIONS}.tmp"
        torch.save(summary.pop("net").state_dict(), tmp)
        tmp.replace(self.out / DURATIONS)
        self.report["durations"] = {**summary, "net": config.to_dict(), "rounding": d.rounding,
                                    "corpora": {c: len(f) for c, f in sorted(feats.items())}}
        return self.report["durations"]

    def _check_recipe(self) -> None:
        """A resumed build must be the same build: each step's settings are recorded in work/recipe.json. Other
        data settings are refused; other tokenizer settings redo the tokenizer, the vocoder and the durations;
        other vocoder settings redo the vocoder, other duration settings the durations. A build recorded before
        the durations step existed simply lacks it: nothing is redone but that step."""
        path = self.work / "recipe.json"
        wanted = self.recipe.step_fields()
        had = json.loads(path.read_text()) if path.is_file() else None
        if had is not None and "data" not in had:  # recorded before per-step settings: data only
            had = {"data": had}
        if had is None and (self.work / "sentences.txt").is_file():
            raise CodecRecipeError(f"{self.work} holds a build whose recipe was not recorded; choose a new "
                                   f"output_dir, or delete {self.work} to rebuild from nothing")
        if had is not None:
            diff = {k: (had["data"].get(k), v) for k, v in wanted["data"].items() if had["data"].get(k) != v}
            if diff:
                raise CodecRecipeError(
                    f"{self.out} was built with a different recipe ({', '.join(f'{k}: {a!r} -> {b!r}' for k, (a, b) in diff.items())}); "
                    f"choose a new output_dir, or delete {self.work} to rebuild from nothing")
            vocoder_files = [self.work / "vocoder-ckpt.pt", self.out / VOCODER, self.out / MANIFEST]
            duration_files = [self.work / "durations-ckpt.pt", self.out / DURATIONS]
            if had.get("tokenizer") != wanted["tokenizer"]:
                self._forget("tokenizer", [self.out / CENTROIDS, self.out / FEATURE_NORM, self.work / "stream.npz",
                                           *vocoder_files, *duration_files])
            else:
                if had.get("vocoder") != wanted["vocoder"]:
                    self._forget("vocoder", vocoder_files)
                if "durations" in had and had["durations"] != wanted["durations"]:
                    # codec.json names durations.pt's hash: it goes too, until the step has run again
                    self._forget("durations", [*duration_files, self.out / MANIFEST])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(wanted, indent=2, sort_keys=True))

    def _forget(self, step: str, files: list[Path]) -> None:
        gone = [p for p in files if p.is_file()]
        for p in gone:
            p.unlink()
        for key in {"tokenizer": ("kmeans", "vocoder", "durations"), "vocoder": ("vocoder",),
                    "durations": ("durations",)}[step]:
            self.report.pop(key, None)
        if gone:
            print(f"build-codec: {step} settings changed since the last run: redoing it "
                  f"(removed {', '.join(p.name for p in gone)})")

    # -- all ----------------------------------------------------------------------------------
    def run(self) -> Path:
        from models.codec.features import WhisperBaseFeatures
        from models.codec.mel import MelConfig
        from models.codec.net import NetConfig

        r = self.recipe
        self.work.mkdir(parents=True, exist_ok=True)
        self._check_recipe()
        sentences = self._timed("sentences", self.sentences)
        corpora = self._timed("speech", lambda: self.speech(sentences))
        feats = self._timed("features", lambda: self.features(corpora))
        centroids, norm = self._timed("tokenizer", lambda: self.tokenizer(feats))
        voc = self._timed("vocoder", lambda: self.vocoder(corpora["en"], feats["en"], centroids, norm))
        dur = self._timed("durations", lambda: self.durations(feats, centroids, norm))
        net = NetConfig(codes=r.codes, dim=r.vocoder.dim, dilations=tuple(r.vocoder.dilations))
        write_manifest(self.out, {
            "codes": r.codes, "rate_hz": 25, "sample_rate": 16000,
            "features": WhisperBaseFeatures(threads=1).describe(), "mel": MelConfig().to_dict(),
            "standardized": norm is not None,
            "net": net.to_dict(), "context_units": net.context_units,
            "units_for_vocoder": "un-merged (one unit = 40 ms; durations kept); merged units: expanded by durations.pt",
            "durations": {"net": dur["net"], "rounding": dur["rounding"], "fit": dur["fit"],
                          "trained_on": {"corpora": dur["corpora"], "steps": dur["steps_done"],
                                         "seconds": dur["seconds"], "final_loss": dur["final_loss"]},
                          "streaming": "a run's frames are final once lookahead more runs (or the end) arrived; "
                                       "then the vocoder's context_units"},
            "training": {"recipe": r.to_dict(), "english_sentences": len(sentences),
                         "template_sentences": r.en_sentences, "frequent_word_sentences": r.en_word_sentences,
                         "template_vocabulary": vocabulary_size(), "distinct_words": distinct_words(sentences),
                         "heldout_excluded": "harness/datasets tts-en-sentences (24)",
                         "chinese_clips": len(corpora["zh"]), "belle_rows": f"{r.belle_skip}..{r.belle_skip + len(corpora['zh'])}",
                         "report": self.report, "complete": not voc.get("stopped_early")},
        })
        print(json.dumps({"codec": str(self.out), "seconds": self.report.get("seconds"),
                          "vocoder": voc, "durations": {k: v for k, v in dur.items() if k != "net"}}, indent=2))
        return self.out


def _save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.stem}.tmp.npy")
    np.save(tmp, array)
    tmp.replace(path)


def _encode_group(file: str, paths: list[str]) -> int:
    """Encode one group of utterances (one thread) into ``file``; returns how many."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from models.codec.features import WhisperBaseFeatures

    global _ENCODER
    if _ENCODER is None:
        _ENCODER = WhisperBaseFeatures(threads=1)
    arrays = [_ENCODER.features(load_16k(Path(p))).astype(np.float16) for p in paths]
    out = Path(file)
    tmp = out.with_name(f".{out.stem}.tmp.npz")
    np.savez(tmp, *arrays)
    tmp.replace(out)
    return len(paths)


_ENCODER = None  # per process


def build_codec(recipe: CodecRecipe, progress: bool = True) -> Path:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    return CodecBuilder(recipe, progress).run()
