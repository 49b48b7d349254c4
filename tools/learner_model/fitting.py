"""Fitting a tenant's learner model from response logs: per-concept BKT by EM (with and
without forgetting), concept difficulties by replaying the Elo updates, and the
predictor's weights by logistic regression on features the Worker's own code computes.

The online replay (`replay`) runs the deployed functions of src/learner/model.py row by
row: what is fitted and evaluated here is what the Worker runs."""

from __future__ import annotations

import statistics
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace

import numpy as np

from learner import model as lm
from tools.learner_model import bkt_em, metrics
from tools.learner_model.data import Row


WHEELSPIN_CHECKPOINTS = (3, 5)


@dataclass
class Fitted:
    """Everything fitted on one training file."""

    bkt: dict[str, lm.BKTParams]             # standard BKT (no forgetting) per concept
    bkt_forget: dict[str, lm.BKTParams]      # BKT with forgetting per concept (what ships)
    default_bkt: lm.BKTParams
    default_bkt_forget: lm.BKTParams
    difficulty: dict[str, float]
    difficulty_count: dict[str, int]
    typical_time_s: dict[str, float]
    params: lm.ModelParams                   # ships: default BKT (forgetting), Elo, weights
    train_rows: dict[str, int] = field(default_factory=dict)
    train_learners: dict[str, int] = field(default_factory=dict)


def sequences(rows: list[Row], concepts: list[str]) -> bkt_em.Sequences:
    index = {c: i for i, c in enumerate(concepts)}
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in rows:
        groups[(r.learner, r.concept)].append(r.credit)
    keys = list(groups)
    return bkt_em.Sequences.build(np.array([index[k[1]] for k in keys], dtype=np.int64),
                                  [np.array(groups[k], dtype=np.float64) for k in keys], len(concepts))


def fit_bkt(rows: list[Row], *, forgets: bool, restarts: int = 4, seed: int = 7) -> tuple[dict[str, lm.BKTParams], lm.BKTParams]:
    concepts = sorted({r.concept for r in rows})
    seqs = sequences(rows, concepts)
    best = bkt_em.fit(seqs, forgets=forgets, restarts=restarts, seed=seed)
    per = {c: lm.BKTParams(p_init=float(best["p_init"][i]), p_transit=float(best["p_transit"][i]),
                           p_slip=float(best["p_slip"][i]), p_guess=float(best["p_guess"][i]),
                           p_forget=float(best["p_forget"][i]))
           for i, c in enumerate(concepts)}
    # The default for a concept never fitted: the median of the fitted ones.
    default = lm.BKTParams(**{f.name: float(statistics.median(getattr(p, f.name) for p in per.values()))
                              for f in fields(lm.BKTParams)})
    return per, default


@dataclass
class Replay:
    """Per TEST row, in order: the three components' predictions, the outcome and the
    predictor's features; plus each learner-concept sequence's states (for wheel-spinning)."""

    y: np.ndarray
    p_combined: np.ndarray
    p_bkt: np.ndarray
    p_ability: np.ndarray
    features: np.ndarray
    sequence_of: np.ndarray          # per row: an id of its (learner, concept) sequence
    p_known_after: np.ndarray        # per row: mastery after the answer
    # per sequence id, at attempts 3 and 5: (model's wheel-spinning risk, share right so far)
    wheelspin: dict[int, dict[int, tuple[float, float]]] = field(default_factory=dict)


def replay(rows: Iterable[Row], bkt: dict[str, lm.BKTParams], default_bkt: lm.BKTParams, params: lm.ModelParams,
           difficulty: dict[str, float], difficulty_count: dict[str, int],
           typical_time_s: dict[str, float] | None = None) -> tuple[Replay, dict[str, float], dict[str, int]]:
    """The online protocol: each row is predicted from the learner's earlier rows only,
    then the learner's state is updated with it, by src/learner/model.py. Returns the
    replay and the concept difficulties (and answer counts) it ends with."""
    rows = list(rows)
    n = len(rows)
    y = np.empty(n)
    pc = np.empty(n)
    pb = np.empty(n)
    pa = np.empty(n)
    pk = np.empty(n)
    seq = np.empty(n, dtype=np.int64)
    feats = np.empty((n, 6))
    states: dict[str, dict[str, lm.ConceptState]] = defaultdict(dict)
    abilities: dict[str, lm.Ability] = {}
    diff = dict(difficulty)
    dcount = dict(difficulty_count)
    seq_ids: dict[tuple[str, str], int] = {}
    wheel: dict[int, dict[int, tuple[float, float]]] = defaultdict(dict)
    checkpoints = WHEELSPIN_CHECKPOINTS
    typical = typical_time_s or {}
    update = lm.update
    features = lm.predictor_features
    for i, r in enumerate(rows):
        params_c = bkt.get(r.concept, default_bkt)
        mine = states[r.learner]
        state = mine.get(r.concept)
        if state is None:
            state = lm.new_state(params_c)
        ability = abilities.get(r.learner) or lm.Ability()
        d = diff.get(r.concept, 0.0)
        dn = dcount.get(r.concept, 0)
        feats[i] = features(state, ability, d, params_c)
        out = update(state, lm.Response(credit=r.credit, response_time_s=r.response_time_s, hints=r.hints,
                                        typical_time_s=typical.get(r.concept)),
                     ability, d, dn, params_c, params)
        mine[r.concept] = out.state
        abilities[r.learner] = ability.plus(state, out.state)
        if not out.rapid_guess:
            diff[r.concept] = d + out.difficulty_delta
            dcount[r.concept] = dn + 1
        y[i] = r.credit
        pc[i] = out.prediction.p_correct
        pb[i] = out.prediction.p_bkt
        pa[i] = out.prediction.p_ability
        pk[i] = out.state.p_known
        seq[i] = sid = seq_ids.setdefault((r.learner, r.concept), len(seq_ids))
        if out.state.attempts in checkpoints and not out.rapid_guess:
            wheel[sid][out.state.attempts] = (lm.wheelspin_risk(out.state, params_c),
                                              out.state.correct / out.state.attempts)
    return Replay(y, pc, pb, pa, feats, seq, pk, dict(wheel)), diff, dcount


def logistic_regression(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iters: int = 50) -> np.ndarray:
    """Newton-Raphson (IRLS) with a small ridge; returns [bias, w...]. y may be fractional."""
    X = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(X.shape[1])
    reg = l2 * len(y) * np.eye(X.shape[1])
    reg[0, 0] = 0.0
    for _ in range(iters):
        z = np.clip(X @ w, -30, 30)
        p = 1.0 / (1.0 + np.exp(-z))
        g = X.T @ (p - y) + reg @ w
        h = (X * (p * (1 - p))[:, None]).T @ X + reg
        step = np.linalg.solve(h, g)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w


def typical_times(rows: list[Row]) -> dict[str, float]:
    times: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if r.response_time_s is not None and r.response_time_s > 0:
            times[r.concept].append(r.response_time_s)
    return {c: statistics.median(v) for c, v in times.items() if len(v) >= 5}


ELO_GRID = tuple(lm.EloConfig(learner_floor=floor, concept_a=concept)
                 for floor in (0.0, 0.2, 0.4) for concept in (0.3, 0.6))


def split_rows(rows: list[Row], share: float, salt: str) -> tuple[list[Row], list[Row]]:
    """By learner (a learner's rows stay on one side), deterministic: crc32 of salt+id."""
    cut = int(round(share * 1000))
    train, test = [], []
    for r in rows:
        (test if zlib.crc32(f"{salt}:{r.learner}".encode()) % 1000 < cut else train).append(r)
    return train, test


def _weights(w: np.ndarray) -> lm.PredictorWeights:
    names = [f.name for f in fields(lm.PredictorWeights)]
    return lm.PredictorWeights(**{k: float(v) for k, v in zip(names, w)})


def tune_elo(rows: list[Row], bkt_f, default_f, typical, log) -> lm.EloConfig:
    """The Elo step sizes that predict best on a validation share of the training learners."""
    inner, val = split_rows(rows, 0.2, "tune")
    if not inner or not val:
        return lm.EloConfig()
    best, best_auc = lm.EloConfig(), -1.0
    for cfg in ELO_GRID:
        base = lm.ModelParams(default_bkt=default_f, elo=cfg)
        rep, diff, dcount = replay(inner, bkt_f, default_f, base, {}, {}, typical)
        params = replace(base, weights=_weights(logistic_regression(rep.features, rep.y)))
        val_rep, _, _ = replay(val, bkt_f, default_f, params, diff, dcount, typical)
        score = metrics.auc(val_rep.y, val_rep.p_combined) or 0.0
        log(f"  elo learner_floor={cfg.learner_floor} concept_a={cfg.concept_a}: validation auc {score:.4f}")
        if score > best_auc:
            best, best_auc = cfg, score
    return best


def fit(rows: list[Row], *, restarts: int = 3, seed: int = 7, tune: bool = True, log=lambda m: None) -> Fitted:
    log(f"fitting BKT (standard) on {len(rows)} rows, {restarts} restart(s)")
    bkt, default = fit_bkt(rows, forgets=False, restarts=restarts, seed=seed)
    log("fitting BKT with forgetting")
    bkt_f, default_f = fit_bkt(rows, forgets=True, restarts=restarts, seed=seed)
    typical = typical_times(rows)
    elo = lm.EloConfig()
    if tune:
        log("choosing the Elo step sizes on a validation share of the training learners")
        elo = tune_elo(rows, bkt_f, default_f, typical, log)
    base = lm.ModelParams(default_bkt=default_f, elo=elo)
    log("replaying the training rows through the Worker's update (difficulties, predictor weights)")
    rep, diff, dcount = replay(rows, bkt_f, default_f, base, {}, {}, typical)
    params = replace(base, weights=_weights(logistic_regression(rep.features, rep.y)))
    per_rows: dict[str, int] = defaultdict(int)
    learners: dict[str, set] = defaultdict(set)
    for r in rows:
        per_rows[r.concept] += 1
        learners[r.concept].add(r.learner)
    return Fitted(bkt, bkt_f, default, default_f, diff, dcount, typical, params, dict(per_rows),
                  {c: len(v) for c, v in learners.items()})
