"""Classification metrics from scratch (confusion matrix, precision/recall/F1 with every sklearn `average`,
ROC and PR curves, AUC, average precision) and the slides' NumPy cross-entropy.

Conventions follow scikit-learn so that every function can be checked against it:
confusion matrices have the TRUE labels in rows and the PREDICTED labels in columns, a score counts as
positive when `score >= threshold`, and a 0/0 ratio is reported as 0.0 (sklearn's `zero_division=0`).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

AVERAGES = (None, "binary", "micro", "macro", "weighted", "samples")


# ---------------------------------------------------------------- losses
def cross_entropy_np(y_true, y_pred, eps: float = 1e-12) -> float:
    """The slides' cross-entropy -sum(y_true * log(y_pred)), both clipped to (eps, 1 - eps)."""
    y_true = np.clip(np.asarray(y_true, dtype=np.float64), eps, 1.0 - eps)
    y_pred = np.clip(np.asarray(y_pred, dtype=np.float64), eps, 1.0 - eps)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must have the same shape")
    return float(-(y_true * np.log(y_pred)).sum())


# ---------------------------------------------------------------- helpers
def _safe_div(num, den):
    """num / den elementwise, with 0.0 where den == 0 (like sklearn's zero_division=0)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den != 0)


def _f1(p, r):
    """Harmonic mean of precision and recall (0 where both are 0)."""
    return _safe_div(2 * np.asarray(p) * np.asarray(r), np.asarray(p) + np.asarray(r))


def _labels_1d(y_true, y_pred, name: str = "y_true") -> tuple[np.ndarray, np.ndarray]:
    """Two 1-D label arrays of equal length, or a clear error."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.ndim != 1:
        raise ValueError(f"{name} and y_pred must be 1-D label arrays, got shapes {y_true.shape} and {y_pred.shape}")
    if len(y_true) != len(y_pred):
        raise ValueError(f"{name} has {len(y_true)} labels but y_pred has {len(y_pred)}")
    if len(y_true) == 0:
        raise ValueError(f"{name} is empty")
    return y_true, y_pred


# ---------------------------------------------------------------- confusion matrix and counts
def confusion_matrix(y_true, y_pred, labels: Sequence | None = None) -> np.ndarray:
    """Counts C[i, j] of samples with true label labels[i] predicted as labels[j] (sklearn's layout)."""
    y_true, y_pred = _labels_1d(y_true, y_pred)
    labels = np.unique(np.r_[y_true, y_pred]) if labels is None else np.asarray(labels)
    index = {label: k for k, label in enumerate(labels.tolist())}
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        if t in index and p in index:
            cm[index[t], index[p]] += 1
    return cm


def counts_to_metrics(tp: int, fn: int, fp: int, tn: int) -> dict[str, float]:
    """Precision, recall, F1, accuracy, specificity and false-positive rate from the four binary counts."""
    counts = {"tp": tp, "fn": fn, "fp": fp, "tn": tn}
    for name, value in counts.items():
        if value < 0:
            raise ValueError(f"{name} must be a non-negative count, got {value}")
    n = tp + fn + fp + tn
    if n == 0:
        raise ValueError("tp + fn + fp + tn is 0: there are no samples")
    precision, recall = float(_safe_div(tp, tp + fp)), float(_safe_div(tp, tp + fn))
    return {"precision": precision, "recall": recall, "f1": float(_f1(precision, recall)),
            "accuracy": (tp + tn) / n, "specificity": float(_safe_div(tn, tn + fp)),
            "fpr": float(_safe_div(fp, fp + tn))}


def accuracy(y_true, y_pred) -> float:
    """Fraction of labels predicted correctly (for indicator matrices: rows predicted exactly)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must be non-empty and of the same shape")
    same = y_true == y_pred
    return float(same.all(axis=1).mean() if same.ndim == 2 else same.mean())


def _per_label_counts(y_true, y_pred, labels):
    """tp, fp, fn and support per label, for 1-D labels or 2-D indicator matrices."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == 2:  # multilabel indicator matrix: one column per label
        if y_true.shape != y_pred.shape:
            raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must have the same shape")
        cols = np.arange(y_true.shape[1]) if labels is None else np.asarray(labels)
        t, p = y_true[:, cols].astype(bool), y_pred[:, cols].astype(bool)
        tp, fp, fn = (t & p).sum(0), (~t & p).sum(0), (t & ~p).sum(0)
        return tp, fp, fn, t.sum(0)
    labels = np.unique(np.r_[y_true, y_pred]) if labels is None else np.asarray(labels)
    t = y_true[:, None] == labels[None, :]  # (n_samples, n_labels): one-vs-rest view of each label
    p = y_pred[:, None] == labels[None, :]
    return (t & p).sum(0), (~t & p).sum(0), (t & ~p).sum(0), t.sum(0)


def precision_recall_f1(y_true, y_pred, average: str | None = "binary", pos_label=1,
                        labels: Sequence | None = None):
    """(precision, recall, F1) like sklearn's precision_recall_fscore_support(..., zero_division=0).

    average: None (per-label arrays), 'binary' (only `pos_label`), 'micro' (global counts),
    'macro' (unweighted mean over labels), 'weighted' (mean weighted by support) or
    'samples' (per-row scores of a multilabel indicator matrix, averaged).
    """
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == 1:
        _labels_1d(y_true, y_pred)
    if average == "samples":
        if y_true.ndim != 2 or y_true.shape != y_pred.shape:
            raise ValueError("average='samples' needs multilabel indicator matrices y_true, y_pred of shape "
                             f"(n_samples, n_labels), got {y_true.shape} and {y_pred.shape}")
        t, p = y_true.astype(bool), y_pred.astype(bool)
        tp = (t & p).sum(1)
        prec, rec = _safe_div(tp, p.sum(1)), _safe_div(tp, t.sum(1))
        return float(prec.mean()), float(rec.mean()), float(_f1(prec, rec).mean())
    if average == "binary":
        if y_true.ndim != 1:
            raise ValueError("average='binary' needs 1-D labels; use 'micro', 'macro', 'weighted' or 'samples'")
        present = np.unique(np.r_[y_true, y_pred])
        if len(present) > 2:
            raise ValueError(f"average='binary' needs two classes but the labels contain {present.tolist()}: "
                             "choose average=None, 'micro', 'macro' or 'weighted'")
        labels = [pos_label]
    tp, fp, fn, support = _per_label_counts(y_true, y_pred, labels)
    if average == "micro":
        prec, rec = float(_safe_div(tp.sum(), tp.sum() + fp.sum())), float(_safe_div(tp.sum(), tp.sum() + fn.sum()))
        return prec, rec, float(_f1(prec, rec))
    prec, rec = _safe_div(tp, tp + fp), _safe_div(tp, tp + fn)
    f1 = _f1(prec, rec)
    if average is None:
        return prec, rec, f1
    if average == "binary":
        return float(prec[0]), float(rec[0]), float(f1[0])
    weights = support if average == "weighted" else np.ones_like(prec)
    if weights.sum() == 0:
        return 0.0, 0.0, 0.0
    return tuple(float(np.average(v, weights=weights)) for v in (prec, rec, f1))


# ---------------------------------------------------------------- threshold curves
def _scores_1d(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    """0/1 targets and float scores as 1-D arrays, checked."""
    y_true, scores = np.asarray(y_true), np.asarray(scores, dtype=np.float64)
    if y_true.ndim != 1 or scores.shape != y_true.shape or y_true.size == 0:
        raise ValueError(f"y_true {y_true.shape} and scores {scores.shape} must be non-empty 1-D arrays of one length")
    if not np.isin(y_true, [0, 1]).all():
        raise ValueError(f"y_true must hold 0/1 labels, got {np.unique(y_true)[:5].tolist()}")
    return y_true.astype(np.int64), scores


def counts_at_thresholds(y_true, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, tps, fps): every distinct score, high to low, and the TP/FP counts of `score >= threshold`."""
    y_true, scores = _scores_1d(y_true, scores)
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], y_true[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each run of equal scores
    tps = np.cumsum(y)[last]
    return s[last], tps, (last + 1) - tps


def confusion_at_threshold(y_true, scores, threshold: float) -> dict[str, int]:
    """TP, FN, FP, TN when `score >= threshold` is predicted positive."""
    y_true, scores = _scores_1d(y_true, scores)
    pred = scores >= threshold
    pos = y_true == 1
    return {"tp": int((pred & pos).sum()), "fn": int((~pred & pos).sum()),
            "fp": int((pred & ~pos).sum()), "tn": int((~pred & ~pos).sum())}


def roc_points(y_true, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) for every threshold, starting at (0, 0) with threshold inf.

    Equals sklearn.metrics.roc_curve(..., drop_intermediate=False).
    """
    thresholds, tps, fps = counts_at_thresholds(y_true, scores)
    if tps[-1] == 0 or fps[-1] == 0:
        raise ValueError("y_true needs both classes (0 and 1) for a ROC curve")
    return np.r_[0.0, fps / fps[-1]], np.r_[0.0, tps / tps[-1]], np.r_[np.inf, thresholds]


def pr_points(y_true, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds) with thresholds increasing and a final point (precision 1, recall 0).

    Equals sklearn.metrics.precision_recall_curve.
    """
    thresholds, tps, fps = counts_at_thresholds(y_true, scores)
    if tps[-1] == 0:
        raise ValueError("y_true has no positive (1) label: recall is undefined")
    precision, recall = tps / (tps + fps), tps / tps[-1]
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thresholds[::-1]


def auc(x, y) -> float:
    """Area under the curve through the points (x, y) by the trapezoidal rule; x must be monotonic."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or len(x) < 2:
        raise ValueError(f"x {x.shape} and y {y.shape} must be 1-D arrays of one length, at least 2 points")
    dx = np.diff(x)
    if (dx < 0).any() and (dx > 0).any():
        raise ValueError("x must be monotonic (increasing or decreasing)")
    area = float(np.sum(dx * (y[1:] + y[:-1]) / 2))
    return abs(area)


def average_precision(y_true, scores) -> float:
    """AP = sum_n (R_n - R_{n-1}) P_n over the thresholds (no interpolation), like sklearn."""
    precision, recall, _ = pr_points(y_true, scores)
    return float(-np.sum(np.diff(recall) * precision[:-1]))


# ---------------------------------------------------------------- a picture of one threshold
def plot_threshold_view(y_true, scores, threshold: float, axes=None):
    """Confusion matrix, ROC curve and PR curve with the operating point of `threshold` marked; returns the figure."""
    import matplotlib.pyplot as plt

    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1] (scores are probabilities), got {threshold}")
    c = confusion_at_threshold(y_true, scores, threshold)
    m = counts_to_metrics(c["tp"], c["fn"], c["fp"], c["tn"])
    fpr, tpr, _ = roc_points(y_true, scores)
    prec, rec, _ = pr_points(y_true, scores)
    if axes is None:
        fig, axes = plt.subplots(1, 3, figsize=(14, 4.3))
    fig = axes[0].figure
    ax = axes[0]
    cm = np.array([[c["tp"], c["fn"]], [c["fp"], c["tn"]]])
    ax.imshow(cm, cmap="Blues", vmin=0, vmax=max(1, cm.max()))
    for (i, j), name in np.ndenumerate(np.array([["TP", "FN"], ["FP", "TN"]])):
        ax.text(j, i, f"{name}\n{cm[i, j]}", ha="center", va="center", fontsize=12,
                color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xticks([0, 1], ["predicted 1", "predicted 0"])
    ax.set_yticks([0, 1], ["actual 1", "actual 0"])
    ax.set_title(f"threshold {threshold:.2f}: P {m['precision']:.3f}, R {m['recall']:.3f}, F1 {m['f1']:.3f}")
    ax = axes[1]
    ax.plot(fpr, tpr, color="darkorange", label=f"ROC curve (area = {auc(fpr, tpr):.4f})")
    ax.plot([0, 1], [0, 1], color="navy", linestyle="--")
    ax.plot(m["fpr"], m["recall"], "o", color="crimson", ms=9, label=f"threshold {threshold:.2f}")
    ax.set(xlabel="False Positive Rate", ylabel="True Positive Rate (recall)", title="ROC curve",
           xlim=(0, 1), ylim=(0, 1.05))
    ax.legend(loc="lower right")
    ax = axes[2]
    ax.plot(rec, prec, color="darkorange", label=f"PR curve (AP = {average_precision(y_true, scores):.4f})")
    ax.plot(m["recall"], m["precision"], "o", color="crimson", ms=9, label=f"threshold {threshold:.2f}")
    ax.set(xlabel="Recall", ylabel="Precision", title="Precision-Recall curve", xlim=(0, 1), ylim=(0, 1.05))
    ax.legend(loc="lower left")
    fig.tight_layout()
    return fig
