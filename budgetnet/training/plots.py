"""Figures of one training run: its learning curve and its confusion matrix."""
from __future__ import annotations

from pathlib import Path

from budgetnet.atomic import save_figure
from budgetnet.figures import pyplot


def learning_curve(history: list[dict], path: str | Path, title: str) -> None:
    plt = pyplot()
    epochs = [h["epoch"] for h in history]
    fig, ax1 = plt.subplots(figsize=(6, 3.6))
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-", color="tab:blue", label="train loss")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("train loss", color="tab:blue")
    vals = [h["val_acc"] for h in history]
    if any(v is not None for v in vals):
        ax2 = ax1.twinx()
        ax2.plot(epochs, [100 * v for v in vals], "s-", color="tab:red", label="val accuracy")
        ax2.set_ylabel("validation accuracy (%)", color="tab:red")
    ax1.set_title(title)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def text_curve(history: list[dict], path: str | Path, title: str) -> None:
    """Train loss and validation bits per character per epoch (a text run)."""
    plt = pyplot()
    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(epochs, [h["train_loss"] / 0.6931471805599453 for h in history], "o-", color="tab:blue",
            label="train (bits/char)")
    ax.plot(epochs, [h["val_bpc"] for h in history], "s-", color="tab:red", label="validation (bits/char)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("bits per character")
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def confusion(matrix, path: str | Path, title: str) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    im = ax.imshow(matrix, cmap="Blues")
    n = len(matrix)
    for i in range(n):
        for j in range(n):
            v = int(matrix[i][j])
            if v:
                ax.text(j, i, v, ha="center", va="center", fontsize=7,
                        color="white" if v > matrix.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
