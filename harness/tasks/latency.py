"""Latency of spoken answers: seconds to the first text token / speech unit / audio sample, real-time factor,
and tokens-before-first-audio, the hardware-free figure.

Definitions (from harness.response timing events; seconds since the request started):
- ``first_text_token``, ``first_unit``: the first generated token of each channel (metrics and sample
  rows name seconds with an ``_s`` suffix: ``first_text_token_s`` ...);
- ``first_audio``: when the first audio sample can leave the vocoder. A model whose vocoder streams (the CSLM
  adapter with ``vocoder=codec:DIR``) renders each speech chunk during generation the moment it is complete
  and stamps the first samples itself (source ``model``); otherwise it is ``first_chunk_end`` plus the
  measured time to render the first chunk's units after generation (source
  ``first_chunk_end+vocoder(first chunk)``);
- ``rtf``: seconds until all audio was rendered / seconds of audio;
- ``tokens_before_first_audio``: generated tokens up to and including the last unit of the first speech
  chunk (``tokens_before_first_chunk_end``). Interleaved chain-of-modality: the first text chunk plus the
  first speech chunk; full chain-of-modality: the whole text answer plus all units (one chunk).
Warm-up: ``warmup`` requests (options) run before the first timed one and are not recorded. Requests run
one at a time. ``python -m harness.tasks.latency compare A B`` reports B/A ratios of two runs (e.g. full vs
interleaved chain-of-modality on the same model).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from harness import provenance
from harness.audio import item_audio
from harness.errors import MEASUREMENT, SYSTEM
from harness.failures import RULES, coverage, kind_of, mark
from harness.model import respond_kwargs
from harness.tasks.base import Stage, StageContext, Task

SECONDS = ("first_text_token", "first_unit", "first_audio")
# per-request figures (sample fields and metric names) with their units
FIGURES = (("tokens_before_first_audio", "tokens"), ("tokens_before_first_unit", "tokens"),
           *((f"{key}_s", "seconds") for key in SECONDS), ("rtf", "ratio"))
OPTION_KEYS = {"warmup", "out_lang"}


class LatencyTask(Task):
    def configure(self) -> None:
        super().configure()
        self.check_option_keys(OPTION_KEYS)
        self.warmup = int(self.spec.options.get("warmup", 2))
        self.out_lang = str(self.spec.options.get("out_lang", "same"))
        self._warmed = False

    def _lang(self, item) -> str:
        return item.lang if self.out_lang == "same" else self.out_lang

    def _first_audio(self, response, events: dict[str, Any]) -> tuple[float | None, str]:
        if events.get("first_audio") is not None:
            return events["first_audio"], "model"
        chunk = next((value for kind, value in response.segments if kind == "units" and value), None)
        vocoder = getattr(self.model, "vocoder", None)
        if chunk is None or events.get("first_chunk_end") is None:
            return None, "no speech"
        if vocoder is None or not hasattr(vocoder, "render"):
            return None, "no vocoder"
        start = time.perf_counter()
        vocoder.render(list(chunk))
        return round(events["first_chunk_end"] + time.perf_counter() - start, 6), "first_chunk_end+vocoder(first chunk)"

    def stages(self) -> list[Stage]:
        model, policy = self.model, self.audio_policy

        def respond(items, upstream, ctx: StageContext):
            if not self._warmed:  # warm-up: caches, kernels, lazy loads; never recorded
                self._warmed = True
                for item in items[: self.warmup]:
                    try:
                        model.respond(item_audio(item, model.input_sample_rate, policy).samples, None,
                                      self._lang(item), **respond_kwargs(model, item))
                    except Exception:  # noqa: BLE001 -- the timed request of this sample records its failure
                        continue
            out: list[Any] = []
            for item in items:
                try:
                    samples = item_audio(item, model.input_sample_rate, policy).samples
                except Exception as exc:  # an unreadable question is the measurement's problem
                    out.append(mark(exc, MEASUREMENT))
                    continue
                try:
                    response = model.respond(samples, None, self._lang(item), **respond_kwargs(model, item))
                    events = dict(response.events)
                    first_audio, source = self._first_audio(response, events)
                except Exception as exc:
                    out.append(exc)
                    continue
                seconds = response.audio.seconds if response.audio is not None else None
                done = events.get("audio_end") or events.get("end")
                out.append({"events": events, "first_audio": first_audio, "first_audio_source": source,
                            "audio_seconds": seconds, "units": len(response.units), "malformed": response.malformed,
                            "rtf": round(done / seconds, 6) if seconds and done is not None else None})
            return out

        return [Stage("respond", {"model": model.describe(), "warmup": self.warmup, "out_lang": self.out_lang,
                                  "audio_policy": policy.__dict__, "timing": "v1"},
                      respond, batch_size=max(self.options.batch_size, self.warmup), models=(model,))]

    def summarize(self, items, records) -> dict[str, Any]:
        samples, ok, system = [], [], 0
        for item in items:
            rec = records["respond"].get(item.id)
            row: dict[str, Any] = {"id": item.id, "lang": item.lang}
            if rec is None or rec["error"]:
                row.update(status="failed", error=rec["error"] if rec else {
                    "stage": "respond", "code": "not_run", "message": "no record (the run stopped early)",
                    "kind": MEASUREMENT})
            else:
                out, events = rec["output"], rec["output"]["events"]
                # Seconds carry an "_s" suffix in rows and metric names (the leaderboard's latency columns).
                row.update({f"{key}_s": events.get(key) for key in ("first_text_token", "first_unit", "first_chunk_end")})
                row.update({key: events.get(key) for key in ("tokens_before_first_unit", "total_tokens")})
                row.update(first_audio_s=out["first_audio"], first_audio_source=out["first_audio_source"],
                           rtf=out["rtf"], units=out["units"], malformed=out["malformed"],
                           tokens_before_first_audio=events.get("tokens_before_first_chunk_end"))
                if row["tokens_before_first_audio"] is None:  # no speech: the system never produced audio
                    row.update(status="failed", error={"stage": "respond", "code": "no_speech", "kind": SYSTEM,
                                                       "message": "the answer has no speech units"})
                else:
                    row["status"] = "ok"
                    ok.append(row)
            system += row["status"] == "failed" and kind_of(row["error"]) == SYSTEM
            samples.append(row)
        measurement = len(samples) - len(ok) - system
        metrics = []
        lang = ",".join(sorted({r["lang"] for r in samples})) or "-"
        for name, unit in FIGURES:
            values = [r[name] for r in ok if r.get(name) is not None]
            with_failures = np.asarray(values + [np.inf] * system, dtype=np.float64)
            for how in ("p50", "p95", "mean"):
                if how == "mean":  # a mean with +inf says nothing: completed requests only (labelled)
                    value = float(np.mean(values)) if values else None
                else:
                    value = _percentile(with_failures, int(how[1:]))
                scored = np.asarray(values, dtype=np.float64)
                metrics.append({"name": name, "lang": lang, "aggregation": how, "unit": unit, "value": value,
                                "ci95": _interval(scored if how == "mean" else with_failures, how, self.options),
                                "n": len(values) + (system if how != "mean" else 0),
                                "coverage": coverage(len(values), system, measurement),
                                "scored_only": {"value": _percentile(scored, int(how[1:]))
                                                if how != "mean" else value, "n": len(values),
                                                "ci95": _interval(scored, how, self.options)},
                                "failure_rule": RULES["latency"],
                                "headline": how == "p50" and name in ("tokens_before_first_audio", "first_audio_s")})
        chain = (self.model.describe().get("generation") or {}).get("chain")
        info = {"latency": {"warmup": self.warmup, "chain": chain, "hardware": provenance.hardware(),
                            "first_audio_sources": sorted({r["first_audio_source"] for r in ok}),
                            "definitions": __doc__.split("Definitions")[1].split("Warm-up")[0].strip()}}
        return {"metrics": metrics, "samples": samples, "info": info}


def _interval(values: np.ndarray, how: str, options) -> list[float] | None:
    """Percentile-bootstrap 95 % interval of the p50 / p95 / mean over requests (resampled with replacement,
    seeded as the other tasks' intervals); None without resamples, without values, or when a bound reaches a
    failure's +inf (more than 2.5 % of the resampled figures fall on a request that never produced audio)."""
    resamples = getattr(options, "bootstrap_resamples", 0)
    if not resamples or not len(values):
        return None
    rng = np.random.default_rng(getattr(options, "seed", 0))
    draws = np.sort(values[rng.integers(0, len(values), size=(resamples, len(values)))], axis=1)
    if how == "mean":
        stats = draws.mean(axis=1)
    else:  # numpy's linear percentile per resample, +inf where it reaches a failure (as _percentile's None)
        h = (len(values) - 1) * int(how[1:]) / 100.0
        lo, frac = int(np.floor(h)), h - np.floor(h)
        low, high = draws[:, lo], draws[:, min(lo + 1, len(values) - 1)]
        with np.errstate(invalid="ignore"):
            stats = np.where(np.isfinite(low) & (np.isfinite(high) | (frac == 0)), low + frac * (high - low), np.inf)
    bounds = np.quantile(stats, [0.025, 0.975], method="inverted_cdf" if np.isinf(stats).any() else "linear")
    return [float(b) for b in bounds] if np.isfinite(bounds).all() else None


def _percentile(values: np.ndarray, q: int) -> float | None:
    """numpy's linear percentile; None when there are no values or it reaches a failure's +inf."""
    if not len(values):
        return None
    x = np.sort(values)
    h = (len(x) - 1) * q / 100.0
    lo = int(np.floor(h))
    frac = h - lo
    if not np.isfinite(x[lo]) or frac and not np.isfinite(x[lo + 1]):
        return None
    return float(x[lo] if frac == 0 else x[lo] + frac * (x[lo + 1] - x[lo]))


def _metric(results: dict, name: str, how: str) -> float | None:
    return next((m["value"] for m in results["metrics"] if m["name"] == name and m["aggregation"] == how), None)


def compare(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """other / base for each latency figure (e.g. base = interleaved CoM, other = full CoM)."""
    rows = {}
    for name, _ in FIGURES:
        for how in ("p50", "mean"):
            a, b = _metric(base, name, how), _metric(other, name, how)
            rows[f"{name}.{how}"] = {"base": a, "other": b, "ratio": (b / a) if a and b is not None else None}
    label = lambda r: {"model": r["model"]["id"], "chain": r.get("latency", {}).get("chain")}
    return {"base": label(base), "other": label(other), "ratios": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.tasks.latency",
                                     description="compare two latency runs: ratios other/base")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("compare")
    p.add_argument("base", help="results.json (or its folder) of the reference run, e.g. interleaved CoM")
    p.add_argument("other", help="results.json (or its folder) of the compared run, e.g. full CoM")
    p.add_argument("--out", help="write the comparison JSON here (printed otherwise)")
    args = parser.parse_args(argv)
    load = lambda p: json.loads((Path(p) / "results.json" if Path(p).is_dir() else Path(p)).read_text())
    text = json.dumps(compare(load(args.base), load(args.other)), indent=2)
    Path(args.out).write_text(text + "\n") if args.out else print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
