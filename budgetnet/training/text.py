"""Training, scoring and sampling of next-token text models (a spec with `input: {tokens, vocab}`).

An epoch is as many steps as the training split holds batches of disjoint windows
(len(train) // (batch_size * tokens)); each step draws `batch_size` windows of `tokens + 1`
characters at random offsets (the generator seeded by the run's seed). The loss is the mean
next-token cross-entropy over every position of every window. Validation and test are scored
over the whole split in consecutive windows: mean cross-entropy in nats per character and bits
per character (nats / ln 2). Selection reads validation; the test split is scored once, at the end.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from budgetnet.data.text import TextData
from budgetnet.model.compile import Network, build
from budgetnet.spec.schema import Spec, load_spec
from budgetnet.training.schedule import make_optimizer, make_scheduler

NATS_PER_BIT = math.log(2)


@dataclass
class TextEpoch:
    epoch: int
    train_loss: float
    val_loss: float
    val_bpc: float
    lr: float
    seconds: float


@dataclass
class TextMetrics:
    name: str
    params: int
    epochs: int
    seconds: float
    val_loss: float | None       # nats per character
    val_bpc: float | None        # bits per character
    test_loss: float | None
    test_bpc: float | None
    best_val_bpc: float | None
    seed: int
    backend: str
    device: str
    train_tokens: int            # characters in the training split
    tokens_per_step: int         # batch_size x tokens
    threads: int = 1
    history: list[TextEpoch] = field(default_factory=list)
    data: dict | None = None     # the corpus's facts (budgetnet.data.text.TextFacts)
    kind: str = "text"

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_per_step * self.steps_per_epoch * self.epochs / self.seconds if self.seconds else 0.0

    @property
    def steps_per_epoch(self) -> int:
        return max(1, self.train_tokens // self.tokens_per_step)

    def to_dict(self) -> dict:
        return {**asdict(self), "tokens_per_s": round(self.tokens_per_s, 1)}


@dataclass
class TextResult:
    model: Network
    metrics: TextMetrics


def _windows(ids: torch.Tensor, starts: torch.Tensor, tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    w = ids[starts[:, None] + torch.arange(tokens + 1, device=ids.device)]
    return w[:, :-1], w[:, 1:]


def _loss(model, x: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    logits = model(x)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction=reduction)


@torch.inference_mode()
def split_loss(model: torch.nn.Module, ids: torch.Tensor, tokens: int, batch: int = 256) -> float:
    """Mean next-character cross-entropy (nats) over `ids` in consecutive windows of `tokens`
    (the ragged tail is scored in one last window that ends at the split's end)."""
    model.eval()
    starts = torch.arange(0, len(ids) - tokens, tokens, device=ids.device)
    total, count = 0.0, 0
    for i in range(0, len(starts), batch):
        x, y = _windows(ids, starts[i:i + batch], tokens)
        total += _loss(model, x, y, "sum").item()
        count += y.numel()
    tail = len(ids) - 1 - (int(starts[-1]) + tokens if len(starts) else 0)  # targets not scored yet
    if tail > 0:
        x, y = _windows(ids, torch.tensor([len(ids) - 1 - tokens], device=ids.device), tokens)
        losses = F.cross_entropy(model(x)[0, -tail:], y[0, -tail:], reduction="sum")
        total, count = total + losses.item(), count + tail
    return total / count


def bpc(nats: float) -> float:
    return nats / NATS_PER_BIT


def train_text(spec: Spec | str, data: TextData, *, epochs: int | None = None, seed: int = 0,
               device: torch.device | str = "cpu", backend: str | None = None, eval_test: bool = True,
               on_epoch: Callable[[TextEpoch, TextResult], None] | None = None,
               on_batch: Callable[[int], None] | None = None) -> TextResult:
    """Train a text spec with its recipe (`epochs` overrides); see the module for the protocol."""
    spec, dev = load_spec(spec), torch.device(device)
    tokens = spec.input[0]
    data.refuse_mismatch(spec.origin, tokens, spec.vocab)
    cfg, epochs = spec.train, epochs or spec.train.epochs
    model = build(spec, backend=backend, seed=seed).to(dev)
    train_ids, val_ids = data.train.to(dev), data.val.to(dev)
    opt = make_optimizer(model.parameters(), cfg.optimizer)
    steps = max(1, len(train_ids) // (cfg.batch_size * tokens))
    sched = make_scheduler(opt, cfg.scheduler, steps, epochs)
    gen = torch.Generator(device=dev).manual_seed(seed)
    metrics = TextMetrics(name=spec.name, params=model.num_params(), epochs=0, seconds=0.0, val_loss=None,
                          val_bpc=None, test_loss=None, test_bpc=None, best_val_bpc=None, seed=seed,
                          backend=backend or spec.backend, device=str(dev), train_tokens=len(train_ids),
                          tokens_per_step=cfg.batch_size * tokens, threads=torch.get_num_threads(),
                          data=data.facts.to_dict())
    result = TextResult(model, metrics)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        loss_sum = torch.zeros((), device=dev)
        for _ in range(steps):
            starts = torch.randint(0, len(train_ids) - tokens, (cfg.batch_size,), device=dev, generator=gen)
            loss = _loss(model, *_windows(train_ids, starts, tokens))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.detach()
            if on_batch:
                on_batch(cfg.batch_size)
        seconds = time.perf_counter() - start
        val = split_loss(model, val_ids, tokens)
        stat = TextEpoch(epoch, loss_sum.item() / steps, val, bpc(val), opt.param_groups[0]["lr"], seconds)
        metrics.history.append(stat)
        metrics.epochs, metrics.seconds = epoch, metrics.seconds + seconds
        metrics.val_loss, metrics.val_bpc = val, bpc(val)
        metrics.best_val_bpc = min(bpc(val), metrics.best_val_bpc or math.inf)
        if on_epoch:
            on_epoch(stat, result)
    if eval_test:
        metrics.test_loss = split_loss(model, data.test.to(dev), tokens)
        metrics.test_bpc = bpc(metrics.test_loss)
    return result


@torch.inference_mode()
def generate(model: Network, vocab: str, *, chars: int, seed: int = 0, prompt: str = "\n",
             temperature: float = 1.0) -> str:
    """`chars` characters sampled one at a time from the model's next-character distribution
    (softmax of logits / temperature), each step seeing the last `tokens` characters."""
    model.eval()
    tokens = model.spec.input[0]
    index = {c: i for i, c in enumerate(vocab)}
    ids = [index[c] for c in prompt]
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(chars):
        context = torch.tensor([ids[-tokens:]], dtype=torch.int64)
        logits = model(context)[0, -1].float()
        probs = torch.softmax(logits / temperature, dim=-1)
        nxt = int(torch.multinomial(probs, 1, generator=gen))
        ids.append(nxt)
        out.append(vocab[nxt])
    return "".join(out)


def sample_checkpoint(path, *, chars: int, seed: int = 0, prompt: str = "\n", temperature: float = 1.0,
                      data=None) -> str:
    """`budgetnet sample`: the prompt and `chars` generated characters of a text checkpoint, on the
    corpus it records (or `data`, refused unless it is the same corpus); bad input is one line."""
    from budgetnet.errors import UsageError
    from budgetnet.training.checkpoint import load_checkpoint
    from budgetnet.training.provenance import recorded_text

    model, ckpt = load_checkpoint(path)
    if not model.spec.is_text:
        raise UsageError(f"{path}: {model.spec.name} is an image model; sample takes a text model's checkpoint")
    corpus = recorded_text(path, ckpt.get("metrics") or {}, data)
    if not prompt:
        raise UsageError("--prompt: give at least one character")
    corpus.encode(prompt)  # refuses characters outside the vocabulary
    return prompt + generate(model, corpus.facts.vocab, chars=chars, seed=seed, prompt=prompt, temperature=temperature)
