"""course_utils.metrics agrees with scikit-learn and with the slides' numbers."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from sklearn import metrics as skm

from course_utils import metrics as M


@pytest.fixture
def multiclass():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 4, 200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 4, 200))
    return y_true, y_pred


@pytest.fixture
def scored():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    s = np.round(np.clip(0.3 * y + rng.normal(0.35, 0.2, 300), 0, 1), 2)  # rounding creates ties
    return y, s


def test_cross_entropy_np_reproduces_the_slides_digits():
    assert M.cross_entropy_np([1, 0, 0, 0], [0.9, 0, 0, 0.1]) == 0.10536051571528555
    assert M.cross_entropy_np([1, 0, 0, 0], [0.1, 0.8, 0.1, 0]) == 2.3025850930218996
    assert M.cross_entropy_np([1, 0], [0.9, 0.1]) == pytest.approx(-np.log(0.9), abs=1e-9)
    with pytest.raises(ValueError, match="same shape"):
        M.cross_entropy_np([1, 0], [1, 0, 0])


def test_confusion_matrix_matches_sklearn(multiclass):
    y_true, y_pred = multiclass
    np.testing.assert_array_equal(M.confusion_matrix(y_true, y_pred), skm.confusion_matrix(y_true, y_pred))
    np.testing.assert_array_equal(M.confusion_matrix(y_true, y_pred, labels=[3, 1]),
                                  skm.confusion_matrix(y_true, y_pred, labels=[3, 1]))
    np.testing.assert_array_equal(M.confusion_matrix(["a", "b", "a"], ["a", "a", "b"]), [[1, 1], [1, 0]])
    with pytest.raises(ValueError, match="y_pred has 2"):
        M.confusion_matrix([0, 1, 1], [0, 1])


def test_counts_to_metrics_slide_example():
    m = M.counts_to_metrics(tp=80, fn=25, fp=10, tn=35)
    assert m["precision"] == pytest.approx(80 / 90)
    assert m["recall"] == pytest.approx(80 / 105)
    assert m["accuracy"] == pytest.approx(115 / 150) and round(m["accuracy"], 4) == 0.7667
    assert m["f1"] == pytest.approx(32 / 39)
    assert m["specificity"] == pytest.approx(35 / 45) and m["fpr"] == pytest.approx(10 / 45)
    assert M.counts_to_metrics(0, 5, 0, 5)["precision"] == 0.0
    with pytest.raises(ValueError, match="fp"):
        M.counts_to_metrics(1, 1, -1, 1)
    with pytest.raises(ValueError, match="no samples"):
        M.counts_to_metrics(0, 0, 0, 0)


def test_accuracy(multiclass):
    y_true, y_pred = multiclass
    assert M.accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred))
    Y = np.array([[1, 0], [1, 1]])
    assert M.accuracy(Y, np.array([[1, 0], [0, 1]])) == 0.5
    with pytest.raises(ValueError):
        M.accuracy([1, 0], [1])


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
def test_precision_recall_f1_multiclass_matches_sklearn(multiclass, average):
    y_true, y_pred = multiclass
    got = M.precision_recall_f1(y_true, y_pred, average=average)
    want = skm.precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=0)[:3]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-12)
    got = M.precision_recall_f1(y_true, y_pred, average=average, labels=[2, 0])
    want = skm.precision_recall_fscore_support(y_true, y_pred, average=average, labels=[2, 0], zero_division=0)[:3]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-12)


def test_precision_recall_f1_binary_and_pos_label():
    y_true = np.array([1] * 105 + [0] * 45)
    y_pred = np.array([1] * 80 + [0] * 25 + [1] * 10 + [0] * 35)
    p, r, f = M.precision_recall_f1(y_true, y_pred)
    assert (p, r, f) == pytest.approx((80 / 90, 80 / 105, 32 / 39))
    got0 = M.precision_recall_f1(y_true, y_pred, pos_label=0)
    want0 = skm.precision_recall_fscore_support(y_true, y_pred, pos_label=0, average="binary")[:3]
    assert got0 == pytest.approx(want0)
    with pytest.raises(ValueError, match="two classes"):
        M.precision_recall_f1([0, 1, 2], [0, 1, 2], average="binary")
    with pytest.raises(ValueError, match="average must be"):
        M.precision_recall_f1([0, 1], [0, 1], average="mean")


def test_precision_recall_f1_zero_division_and_labels():
    y_true, y_pred = [0, 0, 1, 2], [0, 0, 0, 0]  # classes 1 and 2 are never predicted
    for average in [None, "macro", "weighted", "micro"]:
        got = M.precision_recall_f1(y_true, y_pred, average=average)
        want = skm.precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=0)[:3]
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w)
    got = M.precision_recall_f1(y_true, y_pred, average="macro", labels=[1, 2])
    assert got == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted", "samples"])
def test_precision_recall_f1_multilabel_matches_sklearn(average):
    rng = np.random.default_rng(2)
    Y = rng.integers(0, 2, (50, 4))
    P = np.where(rng.random((50, 4)) < 0.7, Y, 1 - Y)
    got = M.precision_recall_f1(Y, P, average=average)
    want = skm.precision_recall_fscore_support(Y, P, average=average, zero_division=0)[:3]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-12)
    with pytest.raises(ValueError, match="samples"):
        M.precision_recall_f1([0, 1], [0, 1], average="samples")


def test_counts_at_thresholds(scored):
    y, s = scored
    thresholds, tps, fps = M.counts_at_thresholds(y, s)
    assert (np.diff(thresholds) < 0).all() and tps[-1] == y.sum() and fps[-1] == (1 - y).sum()
    k = len(thresholds) // 2
    assert tps[k] == ((s >= thresholds[k]) & (y == 1)).sum()
    with pytest.raises(ValueError, match="0/1"):
        M.counts_at_thresholds([0, 2], [0.1, 0.2])


def test_confusion_at_threshold(scored):
    y, s = scored
    c = M.confusion_at_threshold(y, s, 0.5)
    cm = skm.confusion_matrix(y, (s >= 0.5).astype(int), labels=[1, 0])
    assert [[c["tp"], c["fn"]], [c["fp"], c["tn"]]] == cm.tolist()
    with pytest.raises(ValueError):
        M.confusion_at_threshold(y, s[:-1], 0.5)


def test_roc_points_matches_sklearn(scored):
    y, s = scored
    fpr, tpr, th = M.roc_points(y, s)
    want = skm.roc_curve(y, s, drop_intermediate=False)
    for g, w in zip((fpr, tpr, th), want):
        np.testing.assert_allclose(g, w)
    with pytest.raises(ValueError, match="both classes"):
        M.roc_points([1, 1], [0.2, 0.3])


def test_pr_points_matches_sklearn(scored):
    y, s = scored
    for g, w in zip(M.pr_points(y, s), skm.precision_recall_curve(y, s)):
        np.testing.assert_allclose(g, w)
    with pytest.raises(ValueError, match="no positive"):
        M.pr_points([0, 0], [0.2, 0.3])


def test_auc_matches_sklearn(scored):
    y, s = scored
    fpr, tpr, _ = M.roc_points(y, s)
    assert M.auc(fpr, tpr) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert M.auc([0, 1], [1, 1]) == 1.0 and M.auc([1, 0], [1, 1]) == 1.0
    with pytest.raises(ValueError, match="monotonic"):
        M.auc([0, 1, 0.5], [0, 1, 1])


def test_average_precision_matches_sklearn(scored):
    y, s = scored
    assert M.average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
    assert M.average_precision([0, 1, 1], [0.1, 0.8, 0.9]) == 1.0


def test_slides_roc_pr_example():
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    X, y = make_classification(n_samples=1000, n_features=10, n_classes=2, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    prob = LogisticRegression().fit(X_train, y_train).predict_proba(X_test)[:, 1]
    fpr, tpr, _ = M.roc_points(y_test, prob)
    assert round(M.auc(fpr, tpr), 4) == 0.9755
    assert round(M.average_precision(y_test, prob), 4) == 0.9765


def test_plot_threshold_view(scored):
    import matplotlib.pyplot as plt

    y, s = scored
    fig = M.plot_threshold_view(y, s, 0.5)
    assert len(fig.axes) == 3 and "threshold 0.50" in fig.axes[0].get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="threshold"):
        M.plot_threshold_view(y, s, 1.5)
