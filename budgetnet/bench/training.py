"""Benchmarks. Every speed figure is a ratio against a baseline measured in the same run on the
same shapes, because this machine is shared and noisy: never compare across runs. The
time-to-target figure is absolute (seconds against a limit) and needs a quiet machine."""
from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from budgetnet.model.backends import CUSTOM, TORCH
from budgetnet.model.compile import count_params
from budgetnet.spec.shapes import infer
from budgetnet.data.datasets import Dataset, Split, load_dataset, normalize
from budgetnet.spec.schema import load_spec
from budgetnet.training.loop import train


def timed(fn: Callable[[], object], min_seconds: float = 0.5, warmup: int = 1) -> float:
    """Median-free simple timer: seconds per call, averaged over >= min_seconds of calls."""
    for _ in range(warmup):
        fn()
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / calls


# ----------------------------------------------------------------------------- layers
def seed_loop_conv2d(x, weight, stride: int = 1, padding: int = 0):
    """A convolution written the way seed 002 writes it: four Python loops, one dot product
    per output element. The baseline of `bench layers`; never used for training."""
    if padding:
        x = F.pad(x, (padding,) * 4)
    n, _, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
    out = torch.zeros(n, c_out, oh, ow)
    for b in range(n):
        for c in range(c_out):
            for i in range(oh):
                for j in range(ow):
                    patch = x[b, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[b, c, i, j] = torch.sum(patch * weight[c])
    return out


@dataclass
class LayerBench:
    layer: str
    loop_fwd_ms_per_image: float
    custom_fwd_ms: float
    torch_fwd_ms: float
    custom_fwdbwd_ms: float
    torch_fwdbwd_ms: float

    @property
    def custom_vs_loop(self) -> float:  # how many times faster than the seed's loop
        return self.loop_fwd_ms_per_image * self.batch / self.custom_fwd_ms

    batch: int = 128

    def to_dict(self) -> dict:
        return {**self.__dict__, "custom_vs_loop_x": round(self.custom_vs_loop, 1),
                "custom_vs_torch_fwd": round(self.custom_fwd_ms / self.torch_fwd_ms, 2),
                "custom_vs_torch_fwdbwd": round(self.custom_fwdbwd_ms / self.torch_fwdbwd_ms, 2)}


def bench_layers(spec="mnistnet3", batch: int = 128, loop_images: int = 1, seconds: float = 0.3) -> list[LayerBench]:
    """Each conv of the spec, at its real input shape: the seed-style loop (forward, on
    `loop_images` images, scaled per image), our custom conv and torch's, forward and
    forward+backward on `batch` images."""
    spec = load_spec(spec)
    shape, out = tuple(spec.input), []
    for layer, info in infer(spec):
        if layer.op == "conv" and layer.args.groups == 1 and layer.args.dilation == 1:
            a = layer.args
            mods = {kit.name: kit.conv2d(shape[0], a.out, a.k, stride=a.stride, padding=a.padding, bias=a.bias)
                    for kit in (CUSTOM, TORCH)}
            mods["torch"].load_state_dict(mods["custom"].state_dict())
            x = torch.randn(batch, *shape)
            xg = x.clone().requires_grad_()
            one = x[:loop_images]
            loop = timed(lambda: seed_loop_conv2d(one, mods["custom"].weight.detach(), a.stride, a.padding),
                         min_seconds=0, warmup=0)

            def fwd(m):
                with torch.no_grad():
                    return m(x)

            def fwdbwd(m):
                m(xg).sum().backward()

            out.append(LayerBench(
                f"conv {shape[0]}->{a.out} k{a.k} @{shape[1]}x{shape[2]}", 1000 * loop / loop_images,
                1000 * timed(lambda: fwd(mods["custom"]), seconds), 1000 * timed(lambda: fwd(mods["torch"]), seconds),
                1000 * timed(lambda: fwdbwd(mods["custom"]), seconds), 1000 * timed(lambda: fwdbwd(mods["torch"]), seconds),
                batch))
        shape = info.out.shape
    return out


# ----------------------------------------------------------------------------- training
class SeedStyleDataset(torch.utils.data.Dataset):
    """How the seeds feed a model: one PIL image at a time through torchvision-style transforms
    (seed 004: RandomRotation(+-7) then RandomAffine(degrees=15), ToTensor, Normalize), written
    with Pillow because torchvision cannot be installed next to the CPU torch here."""

    def __init__(self, split: Split, mean, std, seed: int = 0):
        self.images = (split.x[:, 0] * 255).round().to(torch.uint8).numpy()
        self.labels, self.mean, self.std = split.y, mean, std
        self.rng = random.Random(seed)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        img = Image.fromarray(self.images[i])
        img = img.rotate(self.rng.uniform(-7, 7), resample=Image.NEAREST)    # RandomRotation((-7, 7))
        img = img.rotate(self.rng.uniform(-15, 15), resample=Image.NEAREST)  # RandomAffine(degrees=15)
        x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).unsqueeze(0)  # ToTensor
        return normalize(x, self.mean, self.std), self.labels[i]                     # Normalize


def naive_images_per_s(spec, data: Dataset, images: int, seed: int = 0) -> float:
    """The seed-style loop: DataLoader over per-sample items, per-image augmentation, `.item()`
    on every step for the running loss, as the seeds log it."""
    spec = load_spec(spec)
    torch.manual_seed(seed)
    from budgetnet.model.compile import build
    from budgetnet.training.schedule import make_optimizer

    model = build(spec)
    opt = make_optimizer(model.parameters(), spec.train.optimizer)
    loader = torch.utils.data.DataLoader(SeedStyleDataset(data.train, data.mean, data.std, seed),
                                         batch_size=spec.train.batch_size, shuffle=True, num_workers=0)
    model.train()
    seen, running, start = 0, 0.0, time.perf_counter()
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        running += loss.item()
        seen += len(y)
        if seen >= images:
            break
    return seen / (time.perf_counter() - start)


def engine_images_per_s(spec, data: Dataset, images: int, seed: int = 0) -> float:
    n = (images // load_spec(spec).train.batch_size) * load_spec(spec).train.batch_size
    sub = Dataset(Split(data.train.x[:n], data.train.y[:n]), None, Split(data.test.x[:1], data.test.y[:1]), data.facts)
    return train(spec, sub, epochs=1, seed=seed, eval_test=False).metrics.images_per_s


def bench_train(spec="mnistnet3", images: int = 10_240, data=None) -> dict:
    data = load_dataset(data)
    engine = engine_images_per_s(spec, data, images)
    naive = naive_images_per_s(spec, data, images)
    return {"spec": load_spec(spec).name, "images": images, "engine_images_per_s": round(engine, 1),
            "naive_images_per_s": round(naive, 1), "ratio": round(engine / naive, 2),
            "threads": torch.get_num_threads()}


def saved_for_backward_bytes(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Bytes autograd keeps between forward and backward (activation memory), counted by hook."""
    seen: dict[int, int] = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()  # shared storage counted once
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x).sum()
    return sum(seen.values())


def bench_model(spec="mnistnet3", batch: int = 128, seconds: float = 0.5) -> dict:
    """The whole network, custom vs torch backend, same weights: forward, forward+backward, images/s
    and the memory kept for backward."""
    from budgetnet.model.compile import build, example_input

    models = {name: build(spec, backend=name, seed=0).train() for name in ("custom", "torch")}
    x = example_input(load_spec(spec), batch)
    out = {"spec": load_spec(spec).name, "batch": batch, "threads": torch.get_num_threads()}
    for name, m in models.items():
        def fwd():
            with torch.no_grad():
                m(x)
        out[f"{name}_fwd_ms"] = 1000 * timed(fwd, seconds)
        out[f"{name}_fwdbwd_ms"] = 1000 * timed(lambda: m(x).sum().backward(), seconds)
        out[f"{name}_train_images_per_s"] = round(1000 * batch / out[f"{name}_fwdbwd_ms"], 1)
        out[f"{name}_saved_bytes"] = saved_for_backward_bytes(m, x)
    out["custom_vs_torch_fwd"] = round(out["custom_fwd_ms"] / out["torch_fwd_ms"], 2)
    out["custom_vs_torch_fwdbwd"] = round(out["custom_fwdbwd_ms"] / out["torch_fwdbwd_ms"], 2)
    losses = lockstep_losses(spec, batch)
    out.update({f"{name}_losses": v for name, v in losses.items()})
    out["max_loss_rel_diff"] = max(abs(a - b) / abs(b) for a, b in zip(losses["custom"], losses["torch"]))
    return out


def lockstep_losses(spec, batch: int = 32, steps: int = 5, seed: int = 0) -> dict[str, list[float]]:
    """The first `steps` training losses of the spec on each backend from the same weights, on the
    same random batches (labels: a class, or per position a symbol), with the spec's optimizer and
    without dropout noise: equal within float rounding when the two backends compute the same thing."""
    from budgetnet.model.compile import build, example_input
    from budgetnet.training.schedule import make_optimizer

    spec = load_spec(spec)
    out = {}
    for name in ("custom", "torch"):
        model = build(spec, backend=name, seed=seed).eval()  # eval: dropout off, batch norm on fixed statistics
        opt = make_optimizer(model.parameters(), spec.train.optimizer)
        gen = torch.Generator().manual_seed(seed)
        losses = []
        for _ in range(steps):
            x = example_input(spec, batch, generator=gen)
            y = torch.randint(0, spec.classes, (batch, *spec.input[:1]) if spec.is_text else (batch,), generator=gen)
            logits = model(x)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        out[name] = losses
    return out


def bench_target(spec, seeds=(0, 1, 2), limit_s: float = 45.0, target: float = 0.994, full_train: bool = False,
                 data=None, on_epoch=None, subset: int | None = None, epochs: int | None = None) -> dict:
    """Time to target: train `spec` with its recipe once per seed and report the training seconds
    and final-epoch test accuracy; reached when the median seed is at or above `target` within
    `limit_s` seconds of training (per-epoch validation included when there is a split).
    `epochs`: the recipe compressed to that many epochs (its schedule spans the shorter run)."""
    spec = load_spec(spec)
    if epochs:
        spec = spec.with_epochs(epochs)
    data = load_dataset(data, full_train=full_train, subset=subset)
    rows = []
    for seed in seeds:
        m = train(spec, data, seed=seed, on_epoch=on_epoch).metrics
        rows.append({"seed": seed, "seconds": round(m.seconds, 2), "test_acc": m.test_acc, "val_acc": m.val_acc,
                     "images_per_s": round(m.images_per_s, 1)})
    median_s = statistics.median(r["seconds"] for r in rows)
    median_acc = statistics.median(r["test_acc"] for r in rows)
    return {"spec": spec.name, "params": count_params(spec), "epochs": spec.train.epochs,
            "batch_size": spec.train.batch_size, "train_images": len(data.train), "threads": torch.get_num_threads(),
            "samples": len(data.train) * spec.train.epochs,  # the second frontier: training samples to target
            "seeds": rows, "median_seconds": median_s, "median_test_acc": median_acc, "limit_seconds": limit_s,
            "target": target, "reached": median_acc >= target and median_s <= limit_s, "data": data.facts.to_dict()}
