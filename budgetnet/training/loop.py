"""The training loop: data on the device once, randperm batches, batched augmentation,
`.item()` only once per epoch. Selection uses the validation split; the test set is scored
once, after the final epoch."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from budgetnet.training import engine
from budgetnet.training.augment import augment
from budgetnet.model.compile import Network, build
from budgetnet.data.datasets import Dataset, Split, normalize, normalizer
from budgetnet.errors import CheckpointError
from budgetnet.training.schedule import make_optimizer, make_scheduler
from budgetnet.training.scores import confusion_matrix, scores
from budgetnet.spec.schema import DistillCfg, Spec, load_spec


@dataclass
class EpochStat:
    epoch: int
    train_loss: float
    val_acc: float | None
    lr: float
    seconds: float


@dataclass
class Metrics:
    name: str
    params: int
    epochs: int
    seconds: float
    val_acc: float | None
    test_acc: float | None
    best_val_acc: float | None
    seed: int
    backend: str
    device: str
    train_images: int
    mean: list[float]           # per channel, over the training images (the normalization)
    std: list[float]
    threads: int = 1            # torch intra-op threads (CPU)
    f1_macro: float | None = None  # of the test evaluation
    history: list[EpochStat] = field(default_factory=list)
    data: dict | None = None    # the data's facts (budgetnet.data.datasets.DataFacts), fingerprint included
    engine: str = "reference"   # budgetnet.training.engine; runs recorded without one used the reference engine

    @property
    def images_per_s(self) -> float:
        return self.train_images * self.epochs / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "images_per_s": round(self.images_per_s, 1)}


@dataclass
class TrainResult:
    model: Network
    metrics: Metrics
    optimizer: torch.optim.Optimizer
    scheduler: object
    generator: torch.Generator  # drives batch order and augmentation
    ema: AveragedModel | None = None  # the weight average that is evaluated and kept, when the recipe asks
    progress: EpochProgress | None = None  # a resumed checkpoint's place inside an epoch


@dataclass
class EpochProgress:
    """Where a checkpoint fell inside an epoch; with the RNG states, resuming there is exact."""
    epoch: int
    step: int  # steps of the epoch done
    perm: torch.Tensor  # the epoch's batch order
    loss_sum: torch.Tensor
    seconds: float  # training seconds of the epoch so far


def resolve_device(device: str | None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@torch.inference_mode()
def predict(model: torch.nn.Module, split: Split, mean, std, batch: int = 2000) -> torch.Tensor:
    model.eval()
    return torch.cat([model(normalize(split.x[i:i + batch], mean, std)).argmax(1) for i in range(0, len(split), batch)])


def accuracy(model, split: Split, mean, std) -> float:
    return (predict(model, split, mean, std) == split.y).float().mean().item()


def load_teacher(cfg: DistillCfg, shape, classes: int, where: str) -> tuple[torch.nn.Module, dict]:
    """The teacher checkpoint of `cfg`, refused (CheckpointError starting with WHERE, the setting
    that named it) when it is unreadable or built for other inputs or classes than the student's."""
    from budgetnet.training.checkpoint import load_checkpoint  # checkpoint -> compile; imported late like a plugin
    try:
        model, ckpt = load_checkpoint(cfg.teacher)
    except CheckpointError as e:
        raise CheckpointError(f"{where}: {e}") from None
    teacher = load_spec(ckpt["spec"])
    if list(teacher.input) != list(shape) or teacher.classes != classes:
        raise CheckpointError(f"{where}: {cfg.teacher} takes input {list(teacher.input)} with {teacher.classes} "
                              f"classes; the student takes {list(shape)} with {classes}")
    return model, ckpt


class Teacher:
    """A trained budgetnet checkpoint whose softened outputs the student also learns from."""

    def __init__(self, cfg: DistillCfg, student: Spec, device: torch.device, run_engine: str):
        self.model, ckpt = load_teacher(cfg, student.input, student.classes, f"{student.origin}: train.distill.teacher")
        self.model.to(device).eval().requires_grad_(False)
        # its forward costs more than the student's: the engine's memory format speeds it the same way
        self.fmt = engine.prepare(self.model, run_engine, images=not student.is_text)
        self.mean, self.std = normalizer(ckpt["metrics"]["mean"], ckpt["metrics"]["std"], device)
        self.cfg = cfg

    def loss(self, student_logits: torch.Tensor, x: torch.Tensor, hard_loss: torch.Tensor) -> torch.Tensor:
        t = self.cfg.temperature
        with torch.no_grad():
            teacher_logits = self.model(normalize(x, self.mean, self.std).contiguous(memory_format=self.fmt))
        soft = F.kl_div(F.log_softmax(student_logits / t, 1), F.log_softmax(teacher_logits / t, 1),
                        log_target=True, reduction="batchmean") * t * t  # t^2 keeps the gradient scale
        return (1 - self.cfg.alpha) * hard_loss + self.cfg.alpha * soft


def train(spec: Spec | str, data: Dataset, *, epochs: int | None = None, seed: int = 0,
          device: str | None = None, backend: str | None = None, eval_test: bool = True,
          on_epoch: Callable[[EpochStat, "TrainResult"], None] | None = None,
          on_batch: Callable[[int], None] | None = None, resume: dict | None = None,
          on_checkpoint: Callable[["TrainResult", EpochProgress], None] | None = None,
          checkpoint_every: float = 600.0) -> TrainResult:
    """Train `spec` with its recipe (`epochs` overrides). `on_epoch` runs after every epoch (it may
    raise to stop, e.g. optuna.TrialPruned); `on_batch(n_images)` feeds a progress bar;
    `on_checkpoint` runs every `checkpoint_every` seconds inside an epoch, so that an epoch of hours
    is not lost to an interruption; `resume` is a checkpoint's resume state (see `resume_state`)."""
    spec, dev = load_spec(spec).fitted(data.shape), resolve_device(device)
    data.refuse_mismatch(spec.origin, spec.input, spec.classes)
    cfg, epochs = spec.train, epochs or spec.train.epochs
    model = build(spec, backend=backend, seed=seed).to(dev)  # seeds torch's global RNG too
    run_engine = engine.effective(cfg.engine, dev)
    fmt = engine.prepare(model, run_engine, images=not spec.is_text)
    train_set, val_set = data.train.to(dev), data.val.to(dev) if data.val else None
    opt = make_optimizer(model.parameters(), cfg.optimizer)
    steps = max(1, len(train_set) // cfg.batch_size)
    sched = make_scheduler(opt, cfg.scheduler, steps, epochs)
    gen = torch.Generator(device=dev).manual_seed(seed)
    stats = normalizer(data.mean, data.std, dev)  # once: the step only subtracts and divides
    metrics = Metrics(name=spec.name, params=model.num_params(), epochs=0, seconds=0.0, val_acc=None, test_acc=None,
                      best_val_acc=None, seed=seed, backend=backend or spec.backend, device=str(dev),
                      train_images=len(train_set), mean=list(data.mean), std=list(data.std),
                      threads=torch.get_num_threads(), data=data.facts.to_dict(), engine=run_engine)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True) if cfg.ema else None
    teacher = Teacher(cfg.distill, spec, dev, run_engine) if cfg.distill else None
    result = TrainResult(model, metrics, opt, sched, gen, ema)
    if resume:
        _restore(result, resume)
    for epoch in range(metrics.epochs + 1, epochs + 1):
        start = saved_at = time.perf_counter()
        model.train()
        if result.progress:  # resumed inside this epoch
            p, result.progress = result.progress, None
            perm, first, loss_sum, carried = p.perm.to(dev), p.step, p.loss_sum.to(dev), p.seconds
        else:
            perm = torch.randperm(len(train_set), device=dev, generator=gen)
            first, loss_sum, carried = 0, torch.zeros((), device=dev), 0.0
        for i in range(first, steps):  # drop the ragged last batch: every step has full BN statistics
            idx = perm[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            x = augment(train_set.x[idx], cfg.augment, gen)
            with engine.autocast(run_engine, dev):
                logits = model(normalize(x, *stats).contiguous(memory_format=fmt))
                loss = F.cross_entropy(logits, train_set.y[idx], label_smoothing=cfg.label_smoothing)
                if teacher:
                    loss = teacher.loss(logits, x, loss)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if ema:
                ema.update_parameters(model)
            loss_sum += loss.detach()
            if on_batch:
                on_batch(len(idx))
            if on_checkpoint and i + 1 < steps and time.perf_counter() - saved_at >= checkpoint_every:
                on_checkpoint(result, EpochProgress(epoch, i + 1, perm, loss_sum, carried + time.perf_counter() - start))
                saved_at = time.perf_counter()
        kept = ema.module if ema else model
        val = accuracy(kept, val_set, data.mean, data.std) if val_set else None
        stat = EpochStat(epoch, loss_sum.item() / steps, val, opt.param_groups[0]["lr"],
                         carried + time.perf_counter() - start)
        metrics.history.append(stat)
        metrics.epochs, metrics.seconds, metrics.val_acc = epoch, metrics.seconds + stat.seconds, val
        if val is not None:
            metrics.best_val_acc = max(val, metrics.best_val_acc or 0.0)
        if on_epoch:
            on_epoch(stat, result)
    if ema:  # the average is the model: evaluated, checkpointed, shipped
        model.load_state_dict(ema.module.state_dict())
    if eval_test:
        test = data.test.to(dev)
        test_scores = scores(confusion_matrix(test.y, predict(model, test, data.mean, data.std), spec.classes))
        metrics.test_acc, metrics.f1_macro = test_scores.accuracy, test_scores.f1_macro
    return result


def resume_state(result: TrainResult, progress: EpochProgress | None = None) -> dict:
    """What `train(resume=...)` needs to continue exactly where an epoch ended, or `progress` within one."""
    return {"model": result.model.state_dict(), "optimizer": result.optimizer.state_dict(),
            "scheduler": result.scheduler.state_dict(), "metrics": result.metrics.to_dict(),
            "torch_rng": torch.get_rng_state(), "gen_rng": result.generator.get_state(),
            "ema": result.ema.state_dict() if result.ema else None,
            "progress": {"epoch": progress.epoch, "step": progress.step, "perm": progress.perm.cpu(),
                         "loss_sum": progress.loss_sum.cpu(), "seconds": progress.seconds} if progress else None}


def _restore(result: TrainResult, state: dict) -> None:
    m = state["metrics"]
    if m.get("engine", "reference") != result.metrics.engine:  # another random stream and rounding
        raise CheckpointError(f"the checkpoint was trained on the {m.get('engine', 'reference')} engine, the spec "
                              f"asks for {result.metrics.engine} (train.engine): resuming would not continue that run")
    result.optimizer.load_state_dict(state["optimizer"])
    result.scheduler.load_state_dict(state["scheduler"])
    result.model.load_state_dict(state["model"])
    if result.ema and state.get("ema"):
        result.ema.load_state_dict(state["ema"])
    torch.set_rng_state(state["torch_rng"])
    result.generator.set_state(state["gen_rng"])
    result.metrics.epochs, result.metrics.seconds = m["epochs"], m["seconds"]
    result.metrics.val_acc, result.metrics.best_val_acc = m["val_acc"], m["best_val_acc"]
    result.metrics.history = [EpochStat(**h) for h in m["history"]]
    if state.get("progress"):
        result.progress = EpochProgress(**state["progress"])
