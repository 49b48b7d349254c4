"""Early wheel-spinning detection (Beck & Gong): label each learner-concept sequence, then
score how well the model's risk after the first 3 and 5 attempts separates the labels,
next to a one-feature baseline (share of right answers so far)."""

from __future__ import annotations

import numpy as np

from learner.model import WHEELSPIN_ATTEMPTS, WHEELSPIN_STREAK
from tools.learner_model import metrics


def label(outcomes: list[float]) -> str:
    """'mastered' if 3 right in a row come within the first 10 attempts, 'wheelspin' if 10
    attempts pass without, else 'indeterminate' (too short to tell)."""
    run = 0
    for i, y in enumerate(outcomes[:WHEELSPIN_ATTEMPTS]):
        run = run + 1 if y >= 0.5 else 0
        if run >= WHEELSPIN_STREAK:
            return "mastered"
    return "wheelspin" if len(outcomes) >= WHEELSPIN_ATTEMPTS else "indeterminate"


def mastered_by(outcomes: list[float], n: int) -> bool:
    run = 0
    for y in outcomes[:n]:
        run = run + 1 if y >= 0.5 else 0
        if run >= WHEELSPIN_STREAK:
            return True
    return False


def evaluate(y: np.ndarray, sequence_of: np.ndarray, scores: dict[int, dict[int, tuple[float, float]]],
             checkpoints=(3, 5)) -> dict[str, float | None]:
    """AUC at each checkpoint over the sequences that are labelled, reached the checkpoint
    and were not already mastered by then (those need no prediction)."""
    outcomes: dict[int, list[float]] = {}
    for value, sid in zip(y.tolist(), sequence_of.tolist()):
        outcomes.setdefault(sid, []).append(value)
    out: dict[str, float | None] = {}
    for n in checkpoints:
        truth, model, base = [], [], []
        for sid, seq in outcomes.items():
            lab = label(seq)
            if lab == "indeterminate" or len(seq) < n or mastered_by(seq, n) or n not in scores.get(sid, {}):
                continue
            risk, share_right = scores[sid][n]
            truth.append(1.0 if lab == "wheelspin" else 0.0)
            model.append(risk)
            base.append(1.0 - share_right)
        t = np.array(truth)
        out[f"wheelspin_auc_at_{n}"] = metrics.auc(t, np.array(model)) if len(t) else None
        out[f"wheelspin_baseline_auc_at_{n}"] = metrics.auc(t, np.array(base)) if len(t) else None
        out[f"wheelspin_sequences_at_{n}"] = float(len(t))
    return out
