"""Optimizers and learning-rate schedules from a spec's `train:` section."""
from __future__ import annotations

import math

import torch

from budgetnet.spec.schema import OptimizerCfg, SchedulerCfg


def make_optimizer(params, cfg: OptimizerCfg) -> torch.optim.Optimizer:
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                               nesterov=cfg.nesterov and cfg.momentum > 0, weight_decay=cfg.weight_decay)
    cls = torch.optim.Adam if cfg.name == "adam" else torch.optim.AdamW
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_scheduler(opt, cfg: SchedulerCfg, steps_per_epoch: int, epochs: int):
    """A per-step scheduler (call .step() after every batch).

    step:     lr * gamma ** (epoch // step_size), as StepLR stepped per epoch
    cosine:   cosine decay to 0 over all steps
    linear:   linear decay to 0 over all steps ("Budgeted Training", Li, Yumer & Ramanan, ICLR
              2020: the schedule that did best when the epoch budget is short)
    onecycle: torch's OneCycleLR with peak at the optimizer's lr
    warmup_epochs (step, cosine, linear): linear ramp from 0 at the start.
    """
    total = steps_per_epoch * epochs
    if cfg.name == "onecycle":
        # OneCycleLR divides by zero when a phase has < 1 step; tiny smoke runs just stop early
        min_total = math.ceil(2 / min(cfg.pct_start, 1 - cfg.pct_start)) + 1
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=[g["lr"] for g in opt.param_groups], total_steps=max(total, min_total),
            pct_start=cfg.pct_start, div_factor=cfg.div_factor,
            cycle_momentum=isinstance(opt, torch.optim.SGD) and opt.defaults.get("momentum", 0) > 0)
    warmup = int(cfg.warmup_epochs * steps_per_epoch)

    def factor(step: int) -> float:
        ramp = min(1.0, (step + 1) / warmup) if warmup else 1.0
        if cfg.name == "step":
            return ramp * cfg.gamma ** ((step // steps_per_epoch) // cfg.step_size)
        if cfg.name == "cosine":
            return ramp * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
        if cfg.name == "linear":
            return ramp * max(0.0, 1 - step / total)
        return ramp

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)
