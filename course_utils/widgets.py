"""Sliders that redraw a figure: one helper so every notebook's widgets behave the same way."""
from __future__ import annotations

from collections.abc import Callable


def widgets_available() -> bool:
    """True when ipywidgets can be imported and we are inside a Jupyter kernel."""
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython

        return get_ipython() is not None and "IPKernelApp" in get_ipython().config
    except ImportError:
        return False


def interactive(update: Callable[..., None], controls: dict, columns: int = 3):
    """Show `controls` (name -> ipywidget) above an output that `update(**values)` redraws on every change.

    `update` draws with matplotlib (plt.show() is called for it). Where widgets cannot render
    (no ipywidgets, or not in a kernel) it draws once with the controls' starting values and says so.
    Returns the widget box (or None in the fallback).
    """
    if not controls:
        raise ValueError("controls is empty: pass at least one widget, e.g. {'lr': FloatSlider(...)}")
    values = {name: w.value for name, w in controls.items()}
    if not widgets_available():
        import matplotlib.pyplot as plt

        print("Widgets cannot render here: showing the starting values. Open the notebook in JupyterLab or "
              "Colab to move the sliders.")
        update(**values)
        plt.show()
        return None
    import ipywidgets as W
    import matplotlib.pyplot as plt
    from IPython.display import display

    def draw(**kw):
        update(**kw)
        plt.show()

    items = list(controls.values())
    rows = [W.HBox(items[i:i + columns]) for i in range(0, len(items), columns)]
    out = W.interactive_output(draw, controls)
    box = W.VBox(rows + [out])
    display(box)
    return box
