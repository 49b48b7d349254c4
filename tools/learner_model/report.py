"""What the commands compute: the params.json document with its fit figures, the
evaluation lines (`name: value`), and the split of a log by learner."""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from dataclasses import asdict
from datetime import UTC, datetime

import numpy as np

from learner import model as lm
from tools.learner_model import data, fitting, metrics, wheelspin

MODEL_NAMES = ("combined", "bkt", "bkt_forget", "elo")


def _figures(y: np.ndarray, p: np.ndarray) -> dict:
    return {**metrics.summary(y, p), "calibration_error": metrics.calibration_error(y, p), "rows": int(len(y))}


def fit_document(rows: list[data.Row], *, restarts: int = 3, holdout: float = 0.2, tune: bool = True,
                 source: dict | None = None, log=lambda m: None) -> dict:
    """Fits on a share of the learners, measures on the rest (per concept and overall), then
    fits the shipped parameters on every row."""
    figures = None
    per_concept: dict[str, dict] = {}
    if holdout > 0:
        train, test = fitting.split_rows(rows, holdout, "holdout")
        if train and test:
            log(f"held-out figures: fitting on {len(train)} rows, measuring on {len(test)}")
            f = fitting.fit(train, restarts=restarts, tune=tune, log=log)
            rep, _, _ = fitting.replay(test, f.bkt_forget, f.default_bkt_forget, f.params, f.difficulty,
                                       f.difficulty_count, f.typical_time_s)
            figures = {**_figures(rep.y, rep.p_combined), "learners": len({r.learner for r in test}),
                       "holdout_share": holdout}
            by_concept: dict[str, list[int]] = defaultdict(list)
            for i, r in enumerate(test):
                by_concept[r.concept].append(i)
            for c, idx in by_concept.items():
                ix = np.array(idx)
                per_concept[c] = _figures(rep.y[ix], rep.p_combined[ix])
    log(f"fitting the shipped parameters on all {len(rows)} rows")
    full = fitting.fit(rows, restarts=restarts, tune=tune, log=log)
    concepts = {}
    for c in sorted(full.bkt_forget):
        concepts[c] = {**asdict(full.bkt_forget[c]), "difficulty": full.difficulty.get(c, 0.0),
                       "difficulty_count": full.difficulty_count.get(c, 0),
                       "fit": {"rows": full.train_rows.get(c, 0), "learners": full.train_learners.get(c, 0),
                               "held_out": per_concept.get(c)}}
    src = {**(source or {}), "rows": len(rows), "learners": len({r.learner for r in rows}),
           "fitted_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    return lm.params_document(full.params, concepts, fit=figures, source=src)


def _fmt(value) -> str:
    if value is None:
        return "nan"
    if isinstance(value, int):
        return str(value)
    return f"{value:.4f}"


def pybkt_reference(train: list[data.Row], test: list[data.Row], log=lambda m: None) -> dict:
    """pyBKT's standard BKT fitted on TRAIN and evaluated on TEST (its own evaluate)."""
    import warnings

    import pandas as pd
    from pyBKT.models import Model

    def frame(rows):
        return pd.DataFrame({"user_id": [r.learner for r in rows], "skill_name": [r.concept for r in rows],
                             "correct": [int(r.credit >= 0.5) for r in rows]})

    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Model(seed=42, num_fits=1)
        model.fit(data=frame(train))
        auc, rmse, accuracy = model.evaluate(data=frame(test), metric=["auc", "rmse", "accuracy"])
    log(f"pyBKT fit+evaluate took {time.perf_counter() - started:.1f} s")
    return {"auc": float(auc), "rmse": float(rmse), "accuracy": float(accuracy)}


def evaluate(train: list[data.Row], test: list[data.Row], *, restarts: int = 3, tune: bool = True,
             pybkt: bool = False, log=lambda m: None) -> list[tuple[str, str]]:
    started = time.perf_counter()
    f = fitting.fit(train, restarts=restarts, tune=tune, log=log)
    log(f"fit on {len(train)} rows took {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    std, _, _ = fitting.replay(test, f.bkt, f.default_bkt, f.params, f.difficulty, f.difficulty_count,
                               f.typical_time_s)
    rep, _, _ = fitting.replay(test, f.bkt_forget, f.default_bkt_forget, f.params, f.difficulty,
                               f.difficulty_count, f.typical_time_s)
    log(f"online prediction of {len(test)} rows (twice) took {time.perf_counter() - started:.1f} s")
    y = rep.y
    models = {"combined": metrics.summary(y, rep.p_combined), "bkt": metrics.summary(y, std.p_bkt),
              "bkt_forget": metrics.summary(y, rep.p_bkt), "elo": metrics.summary(y, rep.p_ability)}
    if pybkt:
        models["pybkt"] = pybkt_reference(train, test, log)
    best = max(models, key=lambda m: models[m]["auc"] or 0.0)
    log(f"best model: {best}")
    right = float(np.mean(y >= 0.5))
    lines = [("rows", _fmt(len(test))), ("base_rate_accuracy", _fmt(max(right, 1 - right)))]
    lines += [(k, _fmt(v)) for k, v in models[best].items()]
    for name, figures in models.items():
        if name != best:
            lines += [(f"{name}.{k}", _fmt(v)) for k, v in figures.items()]
    ws = wheelspin.evaluate(rep.y, rep.sequence_of, rep.wheelspin)
    for key in ("wheelspin_auc_at_3", "wheelspin_auc_at_5", "wheelspin_baseline_auc_at_3",
                "wheelspin_baseline_auc_at_5"):
        lines.append((key, _fmt(ws[key])))
    lines += [("wheelspin_sequences_at_3", _fmt(int(ws["wheelspin_sequences_at_3"]))),
              ("wheelspin_sequences_at_5", _fmt(int(ws["wheelspin_sequences_at_5"])))]
    return lines


def split_file(src: str, train_out: str, test_out: str, share: float) -> tuple[int, int]:
    """Copies the rows of `src` (header and all columns kept) into two files by learner."""
    if not 0 < share < 1:
        raise data.DataError(f"--test-share must be between 0 and 1, not {share}")
    data.read_rows(src, limit=1)  # validates the header
    cut = int(round(share * 1000))
    import zlib

    n_train = n_test = 0
    with open(src, newline="", encoding="utf-8-sig") as f, open(train_out, "w", newline="") as a, \
            open(test_out, "w", newline="") as b:
        reader = csv.reader(f)
        header = next(reader)
        iu = [h.strip() for h in header].index("user_id")
        wa, wb = csv.writer(a, lineterminator="\n"), csv.writer(b, lineterminator="\n")
        wa.writerow(header)
        wb.writerow(header)
        for rec in reader:
            if not rec:
                continue
            if zlib.crc32(f"split:{rec[iu].strip()}".encode()) % 1000 < cut:
                wb.writerow(rec)
                n_test += 1
            else:
                wa.writerow(rec)
                n_train += 1
    return n_train, n_test
