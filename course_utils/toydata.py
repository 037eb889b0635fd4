"""Small data sets of the slides (cricket chirps, age/weight -> height) and 2-D toy sets for classifiers."""
from __future__ import annotations

import numpy as np

#: The slides' cricket table (S4-L1), 13 rows as given: (temperature, no. chirps).
#: Published versions of Pierce's data have 15 rows with chirps/s and degrees F, i.e. the columns
#: look swapped and some rows may be missing; the course uses the slides' rows and labels.
CRICKET = np.array([
    [20.0, 88.6], [19.8, 93.3], [18.4, 84.3], [17.1, 80.6], [15.5, 75.2], [17.1, 82.0], [15.4, 69.4],
    [16.2, 83.3], [15.0, 79.6], [17.2, 82.6], [16.0, 80.6], [17.0, 83.5], [14.4, 76.3],
])

#: The slides' 10-row example (S2): columns age, weight, height.
HEIGHT = np.array([
    [25, 70, 175], [30, 80, 180], [35, 85, 178], [40, 88, 176], [45, 70, 170],
    [50, 75, 169], [55, 77, 165], [60, 88, 160], [65, 70, 158], [70, 72, 155],
], dtype=np.float64)


def cricket() -> tuple[np.ndarray, np.ndarray]:
    """(temperature, chirps) of the slides' 13-row cricket table."""
    return CRICKET[:, 0].copy(), CRICKET[:, 1].copy()


def height() -> tuple[np.ndarray, np.ndarray]:
    """X = (age, weight) shaped (10, 2) and y = height shaped (10, 1), as in the slides."""
    return HEIGHT[:, :2].copy(), HEIGHT[:, 2:].copy()


def make_2d(name: str, n: int = 400, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D binary toy set: 'rings', 'xor', 'gaussian' or 'spiral' -> X (n, 2) float32, y (n,) int64."""
    rng = np.random.default_rng(seed)
    half = n // 2
    if name == "rings":
        r = np.concatenate([rng.uniform(0, 0.5, half), rng.uniform(0.7, 1.0, n - half)])
        t = rng.uniform(0, 2 * np.pi, n)
        X = np.c_[r * np.cos(t), r * np.sin(t)]
        y = np.r_[np.ones(half), np.zeros(n - half)]
    elif name == "xor":
        X = rng.uniform(-1, 1, (n, 2))
        X += np.sign(X) * 0.05  # a small gap around the axes
        y = (X[:, 0] * X[:, 1] > 0).astype(float)
    elif name == "gaussian":
        X = np.r_[rng.normal(0.5, 0.3, (half, 2)), rng.normal(-0.5, 0.3, (n - half, 2))]
        y = np.r_[np.ones(half), np.zeros(n - half)]
    elif name == "spiral":
        t = np.sqrt(rng.uniform(0, 1, half)) * 3 * np.pi
        arm = np.c_[t * np.cos(t), t * np.sin(t)] / (3 * np.pi)
        X = np.r_[arm, -arm[: n - half]]
        y = np.r_[np.ones(half), np.zeros(n - half)]
    else:
        raise ValueError(f"name must be one of 'rings', 'xor', 'gaussian', 'spiral', got {name!r}")
    X = X + rng.normal(0, noise * 0.3, X.shape)
    order = rng.permutation(n)
    return X[order].astype(np.float32), y[order].astype(np.int64)
