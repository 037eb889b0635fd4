"""Sliders that redraw a figure: one helper so every notebook's widgets behave the same way.

Write `update(**values)` so that it builds and returns a `matplotlib.figure.Figure` (not pyplot):

    from matplotlib.figure import Figure

    def draw(threshold):
        fig = Figure(figsize=(6, 3))
        ax = fig.subplots()
        ...
        return fig

    interactive(draw, {"threshold": FloatSlider(value=0.5, min=0, max=1)})

A widget that trains can show its progress: make `update` a generator that yields a Figure every few steps
(the last one stays on screen).

Why not pyplot: JupyterLab delivers widget messages on a second kernel thread (its `commsOverSubshells`
setting, on by default), and pyplot's global state (its post-execute redraw hook, the "current figure") is not
safe to use from two threads. A Figure made directly belongs to no pyplot state; `interactive` renders it to PNG
on one drawing thread of its own, always for the latest values, and shows it in an image widget. Errors in `update` are shown as text under the image,
never raised (a traceback from a widget thread would land in the server log, not in front of the student).
"""
from __future__ import annotations

import html
import io
import threading
from collections.abc import Callable, Iterator

from matplotlib.figure import Figure

#: CSS class of every box made by `interactive`; "cu-busy" is added while it redraws (the browser test waits on it)
BOX_CLASS, BUSY_CLASS = "cu-interactive", "cu-busy"
_RENDER_LOCK = threading.Lock()  # one picture drawn at a time, across all the widgets of a kernel


def widgets_available() -> bool:
    """True when ipywidgets can be imported and we are inside a Jupyter kernel."""
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython

        return get_ipython() is not None and "IPKernelApp" in get_ipython().config
    except ImportError:
        return False


def figure_png(fig: Figure, dpi: int = 90) -> bytes:
    """A figure rendered to PNG bytes (no pyplot involved)."""
    if not isinstance(fig, Figure):
        raise TypeError(f"update must return a matplotlib.figure.Figure (build it with Figure(), not pyplot), "
                        f"got {type(fig).__name__}")
    if getattr(fig.canvas, "manager", None) is not None:
        raise TypeError("update returned a pyplot figure (plt.figure / plt.subplots): build it with "
                        "matplotlib.figure.Figure() instead; pyplot is not safe in widget callbacks")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def frames(update: Callable[..., Figure | Iterator[Figure]], values: dict) -> Iterator[Figure]:
    """The figures of one call of `update`: one Figure, or each Figure a generator yields."""
    result = update(**values)
    if isinstance(result, Iterator):
        yield from result
    else:
        yield result


def error_html(err: BaseException) -> str:
    """An exception as one short red line (type and message, no traceback)."""
    return f"<pre style='color:#b00;white-space:pre-wrap'>{html.escape(f'{type(err).__name__}: {err}')}</pre>"


def interactive(update: Callable[..., Figure | Iterator[Figure]], controls: dict, columns: int = 3,
                dpi: int = 90):
    """Show `controls` (name -> ipywidget) above an image that `update(**values)` (returning a Figure) redraws.

    `update` may also be a generator of Figures (each is shown as it comes: progress while training).
    Where widgets cannot render (no ipywidgets, or not in a kernel) it shows the figure for the controls'
    starting values once and says so. Returns the widget box (or None in the fallback).
    """
    if not isinstance(controls, dict) or not controls:
        raise ValueError("controls is empty: pass a dict of widgets, e.g. {'lr': FloatSlider(...)}")
    if not callable(update):
        raise TypeError(f"update must be a function returning a Figure, got {type(update).__name__}")
    from IPython.display import HTML, Image, display

    values = {name: w.value for name, w in controls.items()}
    if not widgets_available():
        print("Widgets cannot render here: showing the starting values. Open the notebook in JupyterLab or "
              "Colab to move the sliders.")
        try:
            last = None
            for last in frames(update, values):
                pass
            display(Image(figure_png(last, dpi)))
        except Exception as err:
            display(HTML(error_html(err)))
        return None
    import ipywidgets as W

    image = W.Image(format="png", layout=W.Layout(max_width="100%"))
    error = W.HTML(value="")
    items = list(controls.values())
    rows = [W.HBox(items[i:i + columns]) for i in range(0, len(items), columns)]
    box = W.VBox(rows + [image, error])
    box.add_class(BOX_CLASS)
    redrawer = _Redrawer(update, controls, image, error, box, dpi)
    redrawer.draw(redrawer.values(), lambda: False)  # the first picture, drawn before the cell finishes
    for w in items:
        w.observe(redrawer.submit, names="value")
    box.wait_redrawn = redrawer.wait  # for tests: block until the latest change is drawn
    display(box)
    return box


class _Redrawer:
    """Draws a widget's picture on one background thread, always for the latest values.

    A change only records the new values and returns, so the kernel thread that delivers widget messages is
    never blocked; while a picture is being drawn, further changes (a Play button ticking, a slider dragged)
    collapse into one, and a training update (a generator) stops at its next frame when a newer change arrives.
    """

    def __init__(self, update, controls: dict, image, error, box, dpi: int):
        self.update, self.controls, self.image, self.error, self.box, self.dpi = update, controls, image, error, box, dpi
        self.cond = threading.Condition()
        self.pending: dict | None = None
        self.generation = 0
        self.busy = False
        self.thread: threading.Thread | None = None

    def values(self) -> dict:
        return {name: w.value for name, w in self.controls.items()}

    def submit(self, _change=None) -> None:
        """Called on a value change: remember the latest values and wake the drawing thread."""
        with self.cond:
            self.pending, self.generation = self.values(), self.generation + 1
            if not self.busy:
                self.busy = True
                self.box.add_class(BUSY_CLASS)
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name="course_utils-widget", daemon=True)
                self.thread.start()
            self.cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self.cond:
                if self.pending is None:
                    self.busy = False
                    self.box.remove_class(BUSY_CLASS)
                    self.cond.notify_all()
                    if not self.cond.wait(timeout=60) and self.pending is None:
                        self.thread = None  # idle for a minute: end (the next change starts a new thread)
                        return
                    continue
                values, generation, self.pending = self.pending, self.generation, None
            self.draw(values, lambda g=generation: self.generation != g)

    def draw(self, values: dict, superseded: Callable[[], bool]) -> None:
        """Draw `values` (every frame of a generator, unless a newer change supersedes it); errors become text."""
        with _RENDER_LOCK:
            try:
                for fig in frames(self.update, values):
                    self.image.value = figure_png(fig, self.dpi)
                    if superseded():
                        return
                self.error.value = ""
            except Exception as err:  # shown under the widget: a traceback on a widget thread reaches nobody
                self.error.value = error_html(err)

    def wait(self, timeout: float = 60) -> bool:
        """Block until every change so far is drawn (True), or `timeout` seconds pass (False)."""
        with self.cond:
            return self.cond.wait_for(lambda: not self.busy, timeout)
