"""Sliders that redraw a figure: one helper so every notebook's widgets behave the same way.

Write `update(**values)` so that it builds and returns a `matplotlib.figure.Figure` (not pyplot):

    from matplotlib.figure import Figure

    def draw(threshold):
        fig = Figure(figsize=(6, 3))
        ax = fig.subplots()
        ...
        return fig

    interactive(draw, {"threshold": FloatSlider(value=0.5, min=0, max=1)})

Why not pyplot: JupyterLab delivers widget messages on a second kernel thread, and pyplot's global state
(its post-execute redraw hook, the "current figure") is not safe to use from two threads. A Figure made
directly belongs to no pyplot state; `interactive` renders it to PNG and shows it in an image widget.
"""
from __future__ import annotations

import io
from collections.abc import Callable

from matplotlib.figure import Figure


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
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def _draw(update: Callable[..., Figure], values: dict) -> Figure:
    """Call update and check that it returned a Figure."""
    fig = update(**values)
    if not isinstance(fig, Figure):
        raise TypeError(f"update must return a matplotlib.figure.Figure (build it with Figure(), not pyplot), "
                        f"got {type(fig).__name__}")
    return fig


def interactive(update: Callable[..., Figure], controls: dict, columns: int = 3, dpi: int = 90):
    """Show `controls` (name -> ipywidget) above an image that `update(**values)` (returning a Figure) redraws.

    Where widgets cannot render (no ipywidgets, or not in a kernel) it shows the figure for the controls'
    starting values once and says so. Returns the widget box (or None in the fallback).
    """
    if not controls:
        raise ValueError("controls is empty: pass at least one widget, e.g. {'lr': FloatSlider(...)}")
    from IPython.display import display

    values = {name: w.value for name, w in controls.items()}
    if not widgets_available():
        print("Widgets cannot render here: showing the starting values. Open the notebook in JupyterLab or "
              "Colab to move the sliders.")
        fig = update(**values)
        if not isinstance(fig, Figure) or getattr(fig.canvas, "manager", None) is not None:  # LEGACY: pyplot
            import matplotlib.pyplot as plt

            plt.show()
        else:
            display(_draw(lambda **kw: fig, values))
        return None
    import ipywidgets as W

    first = update(**values)
    if not isinstance(first, Figure) or getattr(first.canvas, "manager", None) is not None:
        # LEGACY: an update that draws through pyplot (being migrated; not thread-safe in JupyterLab)
        return _interactive_pyplot(update, controls, columns)
    image = W.Image(format="png", value=figure_png(_draw(lambda **kw: first, values), dpi))
    error = W.HTML(value="")

    def redraw(_change=None) -> None:
        try:
            image.value = figure_png(_draw(update, {name: w.value for name, w in controls.items()}), dpi)
            error.value = ""
        except Exception as err:  # show the student's error under the widget, briefly
            import html

            error.value = f"<pre style='color:#b00'>{html.escape(f'{type(err).__name__}: {err}')}</pre>"

    for w in controls.values():
        w.observe(redraw, names="value")
    items = list(controls.values())
    rows = [W.HBox(items[i:i + columns]) for i in range(0, len(items), columns)]
    box = W.VBox(rows + [image, error])
    display(box)
    return box


def _interactive_pyplot(update: Callable[..., None], controls: dict, columns: int):
    """LEGACY form for an update that draws through pyplot and returns None (to be removed)."""
    import ipywidgets as W
    import matplotlib.pyplot as plt
    from IPython.display import display

    plt.close("all")  # the first call's figure: interactive_output draws again

    def draw(**kw):
        update(**kw)
        plt.show()

    items = list(controls.values())
    rows = [W.HBox(items[i:i + columns]) for i in range(0, len(items), columns)]
    box = W.VBox(rows + [W.interactive_output(draw, controls)])
    display(box)
    return box
