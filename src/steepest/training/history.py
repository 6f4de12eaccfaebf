"""What a training run recorded (:class:`History`) and how it fails (:class:`DivergenceError`).

The bottom of :mod:`steepest.training`: it imports nothing from steepest, so the callbacks,
the checkpoints and the loop can all use it.
"""

from __future__ import annotations

import math

__all__ = ["History", "DivergenceError", "add_diagnosis", "finish_figure"]


class DivergenceError(RuntimeError):
    """Training diverged: the loss became NaN or infinite, or exploded.

    Raised by :class:`steepest.training.callbacks.DivergenceGuard` (on by default in :func:`fit`).
    Attributes: ``epoch`` (0-based), ``step`` (0-based within the epoch), ``loss``, ``lr``
    and ``history`` (the epochs completed before it happened, when raised inside ``fit``).
    """

    def __init__(self, message: str, *, epoch=None, step=None, loss=None, lr=None):
        super().__init__(message)
        self.epoch = epoch
        self.step = step
        self.loss = loss
        self.lr = lr
        self.history = None



# --------------------------------------------------------------------------- History

class History:
    """What ``fit`` recorded, Keras-style.

    Attributes
    ----------
    history : dict[str, list[float]]
        One list per quantity, one entry per epoch: ``'loss'`` (mean training loss over the
        epoch's samples), each metric (``'accuracy'`` ...), ``'val_loss'`` and ``'val_<metric>'``
        with validation data, ``'lr'`` (learning rate of the first parameter group during the
        epoch) and ``'grad_norm/<layer>'`` (mean over the epoch's steps of the L2 norm of that
        Linear layer's weight gradient, layers in depth order).
    epoch : list[int]
        The 0-based epoch numbers, as Keras records them.
    params : dict
        ``epochs``, ``steps`` (per epoch), ``batch_size``, ``samples``, ``metrics``.
    diagnosis : list[str]
        What looked wrong when ``fit`` finished, each with what to try
        (:func:`steepest.training.diagnostics.diagnose`); empty when nothing did.
    """

    def __init__(self, history: dict | None = None, epoch=None, params: dict | None = None):
        self.history: dict = {k: list(v) for k, v in (history or {}).items()}
        self.epoch: list = list(epoch or [])
        self.params: dict = dict(params or {})
        self.model = None
        self.diagnosis: list = []

    def append(self, epoch: int, logs: dict) -> None:
        """Record one epoch's logs (keys seen for the first time are padded with NaN)."""
        n = len(self.epoch)
        for key, value in logs.items():
            column = self.history.get(key)
            if column is None:
                column = self.history[key] = [math.nan] * n
            column.append(float(value))
        for key, column in self.history.items():
            if len(column) < n + 1:
                column.append(math.nan)
        self.epoch.append(int(epoch))

    def __getitem__(self, key: str) -> list:
        return self.history[key]

    def __contains__(self, key) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def layer_grad_norms(self) -> dict:
        """``{layer: [norm per epoch]}`` from the ``'grad_norm/<layer>'`` entries (depth order)."""
        prefix = "grad_norm/"
        return {k[len(prefix):]: v for k, v in self.history.items() if k.startswith(prefix)}

    def to_dict(self) -> dict:
        """A JSON-serialisable copy: ``{'epoch': [...], 'history': {...}, 'params': {...}}``.

        Non-finite numbers (a diverged loss) become ``None`` so that the result is strict JSON.
        """
        def clean(v):
            v = float(v)
            return v if math.isfinite(v) else None
        params = {k: (list(v) if isinstance(v, (tuple, list)) else v)
                  for k, v in self.params.items()}
        return {"epoch": [int(e) for e in self.epoch], "diagnosis": list(self.diagnosis),
                "history": {k: [clean(v) for v in vals] for k, vals in self.history.items()},
                "params": params}

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        """Rebuild a History from :meth:`to_dict`'s output (``None`` becomes NaN)."""
        hist = {k: [math.nan if v is None else float(v) for v in vals]
                for k, vals in data.get("history", {}).items()}
        history = cls(hist, data.get("epoch", []), data.get("params", {}))
        history.diagnosis = [str(line) for line in data.get("diagnosis") or []]
        return history

    def plot(self, path=None, title: str | None = None):
        """Loss curves (and accuracy curves when recorded), with the run's diagnosis under them.

        With ``path``: saved as a PNG, and the path is returned. Without: the matplotlib
        ``Figure`` is returned, and shows inline when it is the last value of a notebook cell.
        Uses matplotlib's Agg canvas directly, so it works without a display and does not
        touch pyplot's global state.
        """
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        h = self.history
        if not self.epoch:
            raise ValueError("History.plot: nothing to plot, no epoch was recorded")
        epochs = [e + 1 for e in self.epoch]
        metric = next((m for m in ("accuracy", "mae", "mse") if m in h or f"val_{m}" in h), None)
        panels = 2 if metric else 1
        fig = Figure(figsize=(5.5 * panels, 4), layout="constrained")
        axes = fig.subplots(1, panels, squeeze=False)[0]
        marker = "." if len(epochs) < 30 else None
        for ax, key in ((axes[0], "loss"),) + (((axes[1], metric),) if metric else ()):
            if key in h:
                ax.plot(epochs, h[key], color="C0", label="training", marker=marker)
            if f"val_{key}" in h:
                ax.plot(epochs, h[f"val_{key}"], color="C1", label="validation", marker=marker)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(key)
            ax.set_title(key.capitalize() + " per epoch")
            ax.grid(alpha=0.3)
        loss_values = [v for v in h.get("loss", []) + h.get("val_loss", []) if
                       math.isfinite(v) and v > 0]
        if loss_values and max(loss_values) / min(loss_values) > 100:
            axes[0].set_yscale("log")
        if title:
            fig.suptitle(title)
        handles, labels = axes[0].get_legend_handles_labels()
        if handles:  # one legend for both panels, beside them: it covers no line
            fig.legend(handles, labels, loc="outside right upper")
        add_diagnosis(fig, self.diagnosis)
        return finish_figure(fig, path)

    def __repr__(self) -> str:
        if not self.epoch:
            return "History(no epochs)"
        last = {k: v[-1] for k, v in self.history.items() if not k.startswith("grad_norm/")}
        shown = ", ".join(f"{k}={v:.4g}" for k, v in last.items())
        notes = (f"; {len(self.diagnosis)} problem{'s' if len(self.diagnosis) > 1 else ''} "
                 f"found, see .diagnosis" if self.diagnosis else "")
        return f"History({len(self.epoch)} epochs; last: {shown}{notes})"


# --------------------------------------------------------------------------- figure helpers

def add_diagnosis(fig, findings) -> None:
    """Write ``findings`` (sentences) under the figure's axes, in a strip added for them."""
    import textwrap

    if not findings:
        return
    width, height = fig.get_size_inches()
    lines = [line for finding in findings
             for line in textwrap.wrap("\u26a0 " + finding, int(width * 13),
                                       subsequent_indent="   ")]
    strip = 0.18 * len(lines) + 0.2
    fig.set_size_inches(width, height + strip)
    share = strip / (height + strip)
    fig.get_layout_engine().set(rect=(0, share, 1, 1 - share))
    fig.text(0.01, share - 0.1 / (height + strip), "\n".join(lines), ha="left", va="top",
             fontsize=9, color="#9b1c1c", linespacing=1.3)


def finish_figure(fig, path):
    """Save ``fig`` to ``path`` and return the path; without a path return the figure,
    made to show inline in a notebook (it gets a ``_repr_png_``)."""
    if path is not None:
        fig.savefig(path, dpi=100)
        return path

    def png() -> bytes:
        import io

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()
    fig._repr_png_ = png
    return fig
