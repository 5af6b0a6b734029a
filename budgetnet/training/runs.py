"""Training and evaluation runs that write their results into a directory (atomically)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Collection, Mapping

from budgetnet import atomic
from budgetnet.training import plots
from budgetnet.training.checkpoint import load_checkpoint, save_checkpoint
from budgetnet.data.datasets import load_dataset
from budgetnet.errors import BudgetnetError, CheckpointError, DataError
from budgetnet.training.scores import Scores, confusion_matrix, scores
from budgetnet.spec.schema import load_spec
from budgetnet.training.loop import Metrics, predict, resolve_device, resume_state, train
from budgetnet.training.text import TextMetrics, split_loss, bpc, train_text
from budgetnet.data.text import TINYSHAKESPEARE, is_text, load_text
from budgetnet.training.provenance import recorded_data, recorded_text


def train_run(x, out: str | Path, *, epochs: int | None = None, seed: int = 0, subset: int | None = None,
              data: str | None = None, backend: str | None = None, device: str | None = None,
              full_train: bool = False, resume: bool = False,
              on_batch: Callable[[int], None] | None = None,
              on_epoch: Callable | None = None, checkpoint_minutes: float = 10.0,
              keep_epochs: Collection[int] = ()) -> Metrics:
    """Train and write DIR/checkpoint.pt (after every epoch and every `checkpoint_minutes` within
    one: an interruption loses at most that much), DIR/metrics.json and DIR/curves.png.
    `resume=True` continues DIR/checkpoint.pt exactly where it was written. The checkpoint at the
    end of each epoch in `keep_epochs` is also kept as DIR/epochNN.pt (a waypoint: a run resumed
    from it continues this one exactly, see budgetnet.training.relay)."""
    spec = load_spec(x)
    out = atomic.check_dir(out)  # before the data and hours of training: a fault costs a line now
    if spec.is_text:
        return _text_run(spec, out, epochs=epochs, seed=seed, subset=subset, data=data, backend=backend,
                         device=device, full_train=full_train, resume=resume, on_batch=on_batch, on_epoch=on_epoch)
    state = None
    if resume:
        _, ckpt = load_checkpoint(out / "checkpoint.pt", expected=spec)  # same architecture, or refuse
        if ckpt.get("resume") is None:
            raise CheckpointError(f"{out / 'checkpoint.pt'}: training already finished; nothing to resume")
        state = ckpt["resume"]
    dataset = load_dataset(data, full_train=full_train, subset=subset)
    if state and state["metrics"].get("train_images") != len(dataset.train):  # another batch order: not a resume
        raise CheckpointError(f"{out / 'checkpoint.pt'}: written for {state['metrics'].get('train_images'):,} training "
                              f"images, this run has {len(dataset.train):,}; resume with the interrupted run's "
                              f"--full-train / --subset")

    def checkpoint(result, progress=None):  # progress: the place inside an epoch, None at its end
        save_checkpoint(out / "checkpoint.pt", result.model, result.metrics.to_dict(), resume_state(result, progress))

    def after_epoch(stat, result):
        checkpoint(result)
        if stat.epoch in keep_epochs:
            with atomic.atomic_path(waypoint(out, stat.epoch)) as tmp:
                shutil.copyfile(out / "checkpoint.pt", tmp)
        if on_epoch:
            on_epoch(stat, result)

    result = train(spec, dataset, epochs=epochs, seed=seed, device=device, backend=backend,
                   on_epoch=after_epoch, on_batch=on_batch, resume=state,
                   on_checkpoint=checkpoint, checkpoint_every=60 * checkpoint_minutes)
    metrics = result.metrics.to_dict() | {"full_train": full_train}
    _finish(out, spec, result.model, metrics)
    plots.learning_curve(metrics["history"], out / "curves.png",
                         f"{spec.name}: {metrics['params']:,} params, test {100 * metrics['test_acc']:.2f}%")
    return result.metrics


def waypoint(out: str | Path, epoch: int) -> Path:
    """Where a run in OUT keeps its checkpoint at the end of `epoch` (`keep_epochs`)."""
    return Path(out) / f"epoch{epoch:02d}.pt"


def _finish(out: Path, spec, model, metrics: dict) -> None:
    """A finished run's files: the final checkpoint (no resume state), metrics.json, spec.yaml."""
    save_checkpoint(out / "checkpoint.pt", model.cpu(), metrics)
    atomic.write_json(out / "metrics.json", metrics)
    atomic.write_text(out / "spec.yaml", spec.to_yaml())


def _text_run(spec, out: Path, *, epochs, seed, subset, data, backend, device, full_train, resume, on_batch,
              on_epoch) -> TextMetrics:
    """A text spec's run: DIR/checkpoint.pt after every epoch, then metrics.json, spec.yaml and
    curves.png (bits per character per epoch)."""
    for flag, given in (("--full-train", full_train), ("--subset", subset), ("--resume", resume)):
        if given:
            raise DataError(f"{spec.origin}: {flag} is for image data; a text run trains on the corpus's fixed "
                            "90% split and restarts from epoch 1")
    if data is not None and not is_text(data):
        raise DataError(f"{spec.origin}: a text spec (input: tokens, vocab) trains on text: --data takes "
                        f"{TINYSHAKESPEARE} or a .txt file, not {data}")
    corpus = load_text(data)

    def after_epoch(stat, result):
        save_checkpoint(out / "checkpoint.pt", result.model, result.metrics.to_dict())
        if on_epoch:
            on_epoch(stat, result)

    result = train_text(spec, corpus, epochs=epochs, seed=seed, device=resolve_device(device), backend=backend,
                        on_epoch=after_epoch, on_batch=on_batch)
    metrics = result.metrics.to_dict()
    _finish(out, spec, result.model, metrics)
    plots.text_curve(metrics["history"], out / "curves.png",
                     f"{spec.name}: {metrics['params']:,} params, test {metrics['test_bpc']:.3f} bits/char")
    return result.metrics


def train_process(spec_path: Path, run_dir: Path, seed: int, *, threads: int = 1, full_train: bool = False,
                  subset: int | None = None, data: str | None = None, env: Mapping[str, str] | None = None,
                  label: str = "") -> Path:
    """`budgetnet train` in a fresh process, waited for (see TrainProcess). Parallel jobs
    (confirm --jobs, spread --jobs) run one of these each."""
    return TrainProcess(spec_path, run_dir, seed, threads=threads, full_train=full_train, subset=subset, data=data,
                        env=env, label=label).wait()


class TrainProcess:
    """`budgetnet train` started in a fresh process (its own threads and environment, read when
    torch loads), logging into RUN_DIR/log.txt; resumable: a finished run is kept (no process
    starts), an interrupted one continues. `wait()` gives RUN_DIR once it finished."""

    def __init__(self, spec_path: Path, run_dir: Path, seed: int, *, threads: int = 1, full_train: bool = False,
                 subset: int | None = None, data: str | None = None, env: Mapping[str, str] | None = None,
                 label: str = "", keep_epochs: Collection[int] = ()):
        self.run_dir, self.label, self._process = run_dir, label, None
        if (run_dir / "metrics.json").is_file():
            return
        atomic.make_dir(run_dir)
        cmd = [sys.executable, "-m", "budgetnet", "train", str(spec_path), "--out", str(run_dir), "--seed", str(seed),
               "--threads", str(threads)] + (["--full-train"] if full_train else [])
        cmd += (["--subset", str(subset)] if subset else []) + (["--data", str(data)] if data else [])
        cmd += ["--keep-epochs", ",".join(map(str, sorted(keep_epochs)))] if keep_epochs else []
        if (run_dir / "checkpoint.pt").is_file():
            cmd.append("--resume")
        with open(run_dir / "log.txt", "a") as log:  # the child writes through its own copy of the handle
            self._process = subprocess.Popen(cmd, env=dict(os.environ) if env is None else dict(env), stdout=log,
                                             stderr=subprocess.STDOUT)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def wait(self) -> Path:
        try:
            code = None if self._process is None else self._process.wait()
        except BaseException:  # an interrupted caller does not leave the run training
            self.stop()
            raise
        if code:
            raise BudgetnetError(f"{self.run_dir}: training{self.label} failed (exit {code}); "
                                 f"see {self.run_dir / 'log.txt'}")
        return self.run_dir

    def stop(self) -> None:
        """End the run if it still trains (its last checkpoint stays: it can resume)."""
        if self.running:
            self._process.terminate()
            self._process.wait()


@dataclass(frozen=True)
class EvalReport:
    name: str
    params: int
    scores: Scores
    confusion: list[list[int]]
    data: dict                      # the facts of the data it was scored on
    notes: tuple[str, ...] = ()     # what the caller should say (e.g. a checkpoint that records no data)

    @property
    def test_acc(self) -> float:
        return self.scores.accuracy

    def to_dict(self) -> dict:
        s = self.scores
        return {"name": self.name, "params": self.params, "test_acc": s.accuracy, "f1_macro": s.f1_macro,
                "per_class": s.recall, "precision": s.precision, "recall": s.recall, "f1": s.f1,
                "confusion": self.confusion, "data": self.data, "notes": list(self.notes)}


@dataclass(frozen=True)
class TextEvalReport:
    name: str
    params: int
    val_loss: float     # nats per character
    test_loss: float
    data: dict
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"name": self.name, "params": self.params, "kind": "text", "val_loss": self.val_loss,
                "val_bpc": bpc(self.val_loss), "test_loss": self.test_loss, "test_bpc": bpc(self.test_loss),
                "data": self.data}


def evaluate_checkpoint(path: str | Path, data: str | Path | None = None, expected=None,
                        plot: str | Path | None = None, backend: str | None = None) -> EvalReport | TextEvalReport:
    """Score a checkpoint on the test set of the data it records (see `recorded_data`); a text
    model on its corpus's validation and test splits. Read-only: a confusion-matrix PNG is written
    only to `plot`."""
    model, ckpt = load_checkpoint(path, expected=load_spec(expected) if expected else None, backend=backend)
    m = ckpt.get("metrics") or {}
    if model.spec.is_text:
        corpus = recorded_text(path, m, data)
        tokens = model.spec.input[0]
        corpus.refuse_mismatch(str(path), tokens, model.spec.vocab)
        return TextEvalReport(model.spec.name, model.num_params(), split_loss(model, corpus.val, tokens),
                              split_loss(model, corpus.test, tokens), corpus.facts.to_dict())
    dataset, notes = recorded_data(path, m, data)
    dataset.refuse_mismatch(str(path), model.spec.input, model.spec.classes)
    mean, std = m.get("mean", dataset.mean), m.get("std", dataset.std)
    cm = confusion_matrix(dataset.test.y, predict(model, dataset.test, mean, std), model.spec.classes)
    report = EvalReport(model.spec.name, model.num_params(), scores(cm), cm.tolist(), dataset.facts.to_dict(),
                        tuple(notes))
    if plot:
        plots.confusion(cm.numpy(), plot, f"{report.name}: test {100 * report.test_acc:.2f}%")
    return report
