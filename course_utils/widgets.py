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
on the callback's thread and shows it in an image widget. Errors in `update` are shown as text under the image,
never raised (a traceback from a widget thread would land in the server log, not in front of the student).
"""
from __future__ import annotations

import html
import io
import threading
import time
from collections.abc import Callable, Iterator

from matplotlib.figure import Figure

#: CSS class of every box made by `interactive`; "cu-busy" is added while it redraws (the browser test waits on it)
BOX_CLASS, BUSY_CLASS = "cu-interactive", "cu-busy"
_RENDER_LOCK = threading.Lock()  # one redraw at a time, whichever thread the widget message arrives on


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

    def redraw(_change=None) -> None:
        with _RENDER_LOCK:
            box.add_class(BUSY_CLASS)
            start = time.perf_counter()
            try:
                for fig in frames(update, {name: w.value for name, w in controls.items()}):
                    image.value = figure_png(fig, dpi)
                error.value = ""
            except Exception as err:  # show the error under the widget instead of raising on the comm thread
                error.value = error_html(err)
            finally:
                box.remove_class(BUSY_CLASS)
                box.redraw_seconds = time.perf_counter() - start

    redraw()
    for w in items:
        w.observe(redraw, names="value")
    display(box)
    return box
