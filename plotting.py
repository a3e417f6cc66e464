"""
The one matplotlib preamble: a file backend (no display on servers or in CI) and one way to save a figure.
"""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)


def figure(*args, **kwargs):
    """plt.subplots with the project's defaults."""
    return plt.subplots(*args, **kwargs)


def savefig(fig, path, dpi=100):
    """Save fig to path (directories created), then close it so long sweeps do not accumulate figures."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
