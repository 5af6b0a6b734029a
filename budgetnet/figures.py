"""matplotlib, headless (Agg), loaded only when a figure is drawn: commands that draw nothing
never import it."""
from __future__ import annotations


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt
