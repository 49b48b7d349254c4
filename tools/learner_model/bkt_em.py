"""Per-concept BKT fitted by expectation-maximisation (Baum-Welch on the two-state hidden
Markov model), all concepts at once with numpy, several random restarts per concept, the
best log-likelihood kept per concept. Offline only (numpy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Bounds that keep a fit identifiable and usable by the Worker's update (BKTParams.problems):
# guess and slip below 1/2 (so a right answer is evidence for knowing) and learn + forget < 1.
GUESS_MAX = 0.45
SLIP_MAX = 0.45
FORGET_MAX = 0.4
LO = 1e-4


@dataclass
class Sequences:
    """Answers grouped into one sequence per (learner, concept), laid out time-major so
    step t of every sequence still running is one contiguous slice (sorted by length)."""

    concept: np.ndarray      # concept index per sequence
    lengths: np.ndarray      # per sequence, descending
    obs: np.ndarray          # flat, time-major
    offsets: np.ndarray      # offsets[t] = start of step t in obs; active count = offsets[t+1]-offsets[t]
    n_concepts: int
    rank: np.ndarray = None  # per flat position: the sequence's rank (index into concept/lengths)

    @classmethod
    def build(cls, seq_concept: np.ndarray, seq_obs: list[np.ndarray], n_concepts: int) -> Sequences:
        lengths = np.array([len(o) for o in seq_obs], dtype=np.int64)
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        concept = np.asarray(seq_concept, dtype=np.int64)[order]
        max_len = int(lengths[0]) if len(lengths) else 0
        active = np.array([(lengths > t).sum() for t in range(max_len)], dtype=np.int64)
        offsets = np.zeros(max_len + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(active)
        obs = np.empty(int(offsets[-1]), dtype=np.float64)
        for rank, idx in enumerate(order):
            o = seq_obs[idx]
            obs[offsets[:len(o)] + rank] = o
        rank = np.concatenate([np.arange(a, dtype=np.int64) for a in active]) if max_len else np.zeros(0, np.int64)
        return cls(concept, lengths, obs, offsets, n_concepts, rank)

    def step(self, t: int) -> tuple[int, int]:
        return int(self.offsets[t]), int(self.offsets[t + 1])


def _e_step(seqs: Sequences, prior, learn, forget, guess, slip):
    """Forward-backward; returns expected counts per concept and the log-likelihood per concept."""
    c = seqs.concept
    n_seq = len(c)
    T = len(seqs.offsets) - 1
    L, F, G, S = learn[c], forget[c], guess[c], slip[c]
    post = np.empty_like(seqs.obs)     # filtered P(known | obs up to t)
    scale = np.empty_like(seqs.obs)    # P(obs_t | obs before t)
    a = prior[c].copy()                # predicted P(known) at step t
    for t in range(T):
        lo, hi = seqs.step(t)
        k = hi - lo
        y = seqs.obs[lo:hi]
        at = a[:k]
        ek = np.where(y > 0.5, 1.0 - S[:k], S[:k])
        eu = np.where(y > 0.5, G[:k], 1.0 - G[:k])
        num = at * ek
        ct = num + (1.0 - at) * eu
        post[lo:hi] = num / ct
        scale[lo:hi] = ct
        a = post[lo:hi] * (1.0 - F[:k]) + (1.0 - post[lo:hi]) * L[:k]
    seq_of = seqs.rank
    loglik = np.bincount(c[seq_of], weights=np.log(scale), minlength=seqs.n_concepts)

    # Backward pass: gamma (P(known | all obs)) and xi sums.
    gamma = np.empty_like(seqs.obs)
    beta_k = np.ones(n_seq)
    beta_u = np.ones(n_seq)
    learn_num = np.zeros(n_seq)   # sum xi(u->k)
    unk_den = np.zeros(n_seq)     # sum gamma(u) over steps with a successor
    forget_num = np.zeros(n_seq)  # sum xi(k->u)
    kn_den = np.zeros(n_seq)
    for t in range(T - 1, -1, -1):
        lo, hi = seqs.step(t)
        k = hi - lo
        pk = post[lo:hi]
        if t + 1 < T:
            lo2, hi2 = seqs.step(t + 1)
            k2 = hi2 - lo2
            y2 = seqs.obs[lo2:hi2]
            ek2 = np.where(y2 > 0.5, 1.0 - S[:k2], S[:k2])
            eu2 = np.where(y2 > 0.5, G[:k2], 1.0 - G[:k2])
            bk2, bu2 = beta_k[:k2], beta_u[:k2]
            pk2 = pk[:k2]
            F2, L2 = F[:k2], L[:k2]
            # xi(i->j) proportional to alpha_t(i) A_ij e_j(y_t+1) beta_t+1(j), normalised per
            # sequence; beta is kept normalised too (only ratios matter), which never overflows.
            x_kk = pk2 * (1 - F2) * ek2 * bk2
            x_ku = pk2 * F2 * eu2 * bu2
            x_uk = (1 - pk2) * L2 * ek2 * bk2
            x_uu = (1 - pk2) * (1 - L2) * eu2 * bu2
            z = np.maximum(x_kk + x_ku + x_uk + x_uu, 1e-300)
            learn_num[:k2] += x_uk / z
            unk_den[:k2] += (x_uk + x_uu) / z
            forget_num[:k2] += x_ku / z
            kn_den[:k2] += (x_kk + x_ku) / z
            nbk = (1 - F2) * ek2 * bk2 + F2 * eu2 * bu2
            nbu = L2 * ek2 * bk2 + (1 - L2) * eu2 * bu2
            norm = np.maximum(nbk + nbu, 1e-300)
            beta_k[:k2] = nbk / norm
            beta_u[:k2] = nbu / norm
        # Sequences ending at t (ranks k2..k) keep beta = 1: they were never active later.
        g = pk * beta_k[:k]
        gamma[lo:hi] = g / np.maximum(g + (1 - pk) * beta_u[:k], 1e-300)
    return post, scale, gamma, learn_num, unk_den, forget_num, kn_den, loglik, seq_of


def fit(seqs: Sequences, *, forgets: bool, restarts: int = 4, max_iter: int = 60, tol: float = 1e-4,
        seed: int = 7) -> dict[str, np.ndarray]:
    """Fits every concept; returns arrays p_init, p_transit, p_slip, p_guess, p_forget, loglik."""
    rng = np.random.default_rng(seed)
    n = seqs.n_concepts
    best = None
    c = seqs.concept
    T = len(seqs.offsets) - 1
    first_idx = np.arange(seqs.offsets[1]) if T else np.zeros(0, int)
    for r in range(restarts):
        if r == 0:
            prior, learn, guess, slip = (np.full(n, 0.4), np.full(n, 0.1), np.full(n, 0.2), np.full(n, 0.1))
        else:
            prior = rng.uniform(0.05, 0.9, n)
            learn = rng.uniform(0.01, 0.4, n)
            guess = rng.uniform(0.05, 0.4, n)
            slip = rng.uniform(0.02, 0.3, n)
        forget = np.full(n, 0.02 if forgets else 0.0) if r == 0 else (rng.uniform(0.0, 0.15, n) if forgets else np.zeros(n))
        last = np.full(n, -np.inf)
        for _ in range(max_iter):
            post, scale, gamma, lnum, uden, fnum, kden, loglik, seq_of = _e_step(seqs, prior, learn, forget, guess, slip)
            cs = c[seq_of]
            # M-step, per concept.
            init_num = np.bincount(c, weights=gamma[first_idx], minlength=n)
            init_den = np.bincount(c, minlength=n).astype(float)
            prior = np.clip(init_num / np.maximum(init_den, 1e-12), LO, 1 - LO)
            learn = np.clip(np.bincount(c, weights=lnum, minlength=n) / np.maximum(np.bincount(c, weights=uden, minlength=n), 1e-12), LO, 1 - LO)
            if forgets:
                forget = np.clip(np.bincount(c, weights=fnum, minlength=n) / np.maximum(np.bincount(c, weights=kden, minlength=n), 1e-12), LO, FORGET_MAX)
                forget = np.minimum(forget, 0.99 - learn)
            unk = 1.0 - gamma
            guess = np.clip(np.bincount(cs, weights=unk * seqs.obs, minlength=n) / np.maximum(np.bincount(cs, weights=unk, minlength=n), 1e-12), LO, GUESS_MAX)
            slip = np.clip(np.bincount(cs, weights=gamma * (1 - seqs.obs), minlength=n) / np.maximum(np.bincount(cs, weights=gamma, minlength=n), 1e-12), LO, SLIP_MAX)
            if np.all(np.abs(loglik - last) < tol * np.maximum(1.0, np.abs(loglik))):
                break
            last = loglik
        _, _, _, _, _, _, _, loglik, _ = _e_step(seqs, prior, learn, forget, guess, slip)
        loglik = np.where(np.isfinite(loglik), loglik, -np.inf)  # a diverged concept loses to any restart
        cand = {"p_init": prior, "p_transit": learn, "p_slip": slip, "p_guess": guess, "p_forget": forget,
                "loglik": loglik}
        if best is None:
            best = {k: v.copy() for k, v in cand.items()}
        else:
            better = loglik > best["loglik"]
            for k in best:
                best[k] = np.where(better, cand[k], best[k])
    return best
