"""Rosenblatt's perceptron (1958) and its learning rule.

    yhat = step(w . x + b) in {0, 1}
    w <- w + eta (y - yhat) x,   b <- b + eta (y - yhat)         (one example at a time)

Only mistakes change w. Novikoff (1962): if some unit vector u and margin gamma > 0 have
(2y - 1) u . x >= gamma for every example (bias folded in as a constant input), and |x| <= R,
the rule makes at most (R / gamma)^2 updates, whatever the order, and then classifies the set
without error. On data that is not linearly separable it never settles.
"""

import numpy as np


def predict(w: np.ndarray, b: float, x: np.ndarray) -> np.ndarray:
    """yhat = step(x w + b): x [N, D] (or [D]) -> {0, 1}."""
    return (x @ w + b > 0).astype(np.int32)


def train(x: np.ndarray, y: np.ndarray, *, eta: float = 1.0, max_epochs: int = 100, seed: int = 0,
          shuffle: bool = True) -> dict:
    """The perceptron rule over epochs of x [N, D], y [N] in {0, 1}, until an epoch makes no mistake.

    Returns {'w': [D], 'b', 'updates' (total), 'errors_per_epoch' (mistakes during each epoch),
    'converged' (an epoch without mistakes)}. Plain numpy: the rule is sequential and tiny.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y)
    if x.ndim != 2 or y.shape != x.shape[:1]:
        raise ValueError(f"perceptron.train: expected x [N, D] and y [N], got {x.shape} and {y.shape}")
    if not set(np.unique(y)) <= {0, 1}:
        raise ValueError(f"perceptron.train: labels must be 0 or 1, got {np.unique(y)[:5]}")
    rng = np.random.default_rng(seed)
    w, b, updates, errors = np.zeros(x.shape[1]), 0.0, 0, []
    for _ in range(max_epochs):
        mistakes = 0
        for i in (rng.permutation(len(y)) if shuffle else range(len(y))):
            err = y[i] - int(x[i] @ w + b > 0)  # y - yhat in {-1, 0, 1}
            if err:
                w += eta * err * x[i]
                b += eta * err
                mistakes += 1
        updates += mistakes
        errors.append(mistakes)
        if mistakes == 0:
            break
    return {"w": w, "b": b, "updates": updates, "errors_per_epoch": errors, "converged": errors[-1] == 0}


def novikoff_bound(x: np.ndarray, y: np.ndarray, u: np.ndarray) -> float:
    """(R / gamma)^2 for a separating direction u over the inputs with the bias folded in, [x, 1]."""
    xb = np.concatenate([np.asarray(x, np.float64), np.ones((len(x), 1))], axis=1)  # [N, D + 1]
    u = np.asarray(u, np.float64) / np.linalg.norm(u)
    gamma = np.min((2 * np.asarray(y) - 1) * (xb @ u))
    if gamma <= 0:
        raise ValueError(f"novikoff_bound: u does not separate the data (margin {gamma:.3g} <= 0)")
    return float((np.linalg.norm(xb, axis=1).max() / gamma) ** 2)
