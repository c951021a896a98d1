"""What a training run shows, and how a person stops it: a loss plot that redraws in a
notebook after each evaluation, and Ctrl-C held until the step in progress (and the
checkpoint being written) is complete. :class:`lmlib.train.Trainer` uses both."""

from __future__ import annotations

import contextlib

__all__ = ["in_notebook", "LivePlot", "held_ctrl_c", "LABELS"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where a live plot can be drawn)."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
        return shell is not None and "IPKernelApp" in getattr(shell, "config", {})
    except ImportError:
        return False


LABELS = {"train_loss": "train", "val_loss": "val", "val_acc": "val acc"}  # plots and log lines


class LivePlot:
    """A loss plot that redraws in place in a notebook after each evaluation."""

    def __init__(self):
        self.handle = None

    def update(self, history, title: str = "") -> None:
        """Draw the curves of ``history`` (a :class:`lmlib.train.History`)."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        fig, ax = plt.subplots()
        for key in ("train_loss", "val_loss", "val_acc"):
            if len(getattr(history, key)) == len(history.steps):
                fixed = " (fixed batches)" if history.val_loss else ""  # windows
                ax.plot(history.steps, getattr(history, key), "o-", ms=3,
                        label=LABELS[key] + fixed)
        ax.set_xlabel("step")
        ax.set_ylabel("loss (nats/token)" if history.val_loss else "loss, accuracy")
        ax.set_title(title)
        ax.legend()
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
        plt.close(fig)


@contextlib.contextmanager
def held_ctrl_c():
    """Hold Ctrl-C (SIGINT) until the step and the checkpoint being written are complete:
    yields a function that says whether Ctrl-C was pressed. A second Ctrl-C interrupts at
    once (KeyboardInterrupt). Outside the main thread nothing is held."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    presses = []

    def handler(signum, frame):
        presses.append(signum)
        if len(presses) > 1:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(presses)
    finally:
        signal.signal(signal.SIGINT, previous)
