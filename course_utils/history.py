"""The record of a training run: one row per epoch, able to plot itself."""
from __future__ import annotations


class History:
    """Per-epoch training record: `h["val_accuracy"]` is a list, `h.rows` the raw rows, `h.plot()` the curves."""

    def __init__(self, rows: list[dict] | None = None, monitor: str = "val_loss"):
        self.rows: list[dict] = list(rows or [])
        self.monitor = monitor

    def append(self, row: dict) -> None:
        """Add one epoch's row (epoch, train_loss, ..., lr, seconds)."""
        self.rows.append(dict(row))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: str) -> list:
        if not self.rows or key not in self.rows[-1]:
            raise KeyError(f"{key!r} was not logged; available: {self.keys()}")
        return [row.get(key) for row in self.rows]

    def keys(self) -> list[str]:
        """The names of the logged values."""
        return list(self.rows[-1]) if self.rows else []

    def best_epoch(self) -> int | None:
        """The epoch with the best monitored value (lowest loss, highest anything else)."""
        if not self.rows or self.monitor not in self.rows[-1]:
            return None
        key = (lambda r: r[self.monitor]) if not self.monitor.endswith("loss") else (lambda r: -r[self.monitor])
        return max(self.rows, key=key)["epoch"]

    def best_value(self, higher_is_better: bool) -> float | None:
        """The best monitored value so far (None before the first epoch)."""
        values = [r[self.monitor] for r in self.rows if self.monitor in r]
        return (max(values) if higher_is_better else min(values)) if values else None

    def format_row(self, row: dict) -> str:
        """One plain-text line for an epoch."""
        parts = [f"epoch {row['epoch']:>3}"]
        parts += [f"{k} {v:.4f}" for k, v in row.items() if k not in {"epoch", "lr", "seconds"}]
        parts += [f"lr {row['lr']:.2e}", f"{row['seconds']:.1f}s"]
        return " | ".join(parts)

    def to_dict(self) -> dict:
        """A plain dict (safe to save with torch.save and load with weights_only=True)."""
        return {"rows": [dict(r) for r in self.rows], "monitor": self.monitor}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        """Inverse of to_dict."""
        return cls(d["rows"], d.get("monitor", "val_loss"))

    def plot(self, axes=None):
        """Loss and metric curves, train vs validation, one panel each; returns the figure."""
        from .viz import plot_history

        return plot_history(self, axes=axes)

    def live_plot(self) -> "LivePlot":
        """A plot of this history that redraws in place in a notebook."""
        return LivePlot(self)

    def __repr__(self) -> str:
        if not self.rows:
            return "History(empty)"
        return f"History({len(self)} epochs; last: {self.format_row(self.rows[-1])})"


class LivePlot:
    """Redraws a History's curves in one notebook output after every epoch."""

    def __init__(self, history: History):
        from IPython.display import display

        self.history = history
        self.handle = display(display_id=True)  # an empty output we can update in place

    def update(self) -> None:
        """Redraw the curves with the epochs so far."""
        import matplotlib.pyplot as plt

        fig = self.history.plot()
        self.handle.update(fig)
        plt.close(fig)

    def close(self) -> None:
        """Nothing to release: the last drawing stays in the output."""
