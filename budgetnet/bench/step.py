"""`budgetnet bench step`: one training step of a spec's recipe, the engine's variants against the
same layout written as plain PyTorch, timed in interleaved rounds of the same run; a profile of
where the step's time goes by op family; GFLOP/s against a single-precision GEMM measured in the
same run (the practical peak of this core); the CPU and its instruction sets."""
from __future__ import annotations

import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function

from budgetnet.data.datasets import load_dataset, normalize
from budgetnet.errors import UsageError
from budgetnet.model import fastdropout, fastpool
from budgetnet.model.compile import build, summarize
from budgetnet.spec.schema import Spec, load_spec
from budgetnet.training import engine
from budgetnet.training.augment import augment
from budgetnet.training.schedule import make_optimizer

GROUP = 3  # models trained at once by the grouped variant

VARIANTS = {
    "plain": "the spec's layout as plain PyTorch (nn.Conv2d/ReLU/BatchNorm2d/Dropout/MaxPool2d), "
             "batches sliced from memory, no augmentation: the baseline",
    "reference": "the reference engine's step (augmentation, torch's dropout masks, NCHW)",
    "fast": "the fast engine's step, the default (augmentation, 16-bit-word masks, channels-last)",
    "fast-nchw": "the fast engine's masks in NCHW: the dropout lever alone",
    "fast-bf16": "the fast engine under bf16 autocast",
    "fast-compile": "the fast engine's model under torch.compile (compile time reported apart)",
    "fast-inplace": "the fast engine with ReLU in place",
    "fast-no-onednn": "the fast engine with oneDNN off (ATen's im2col + GEMM convolutions)",
    "grouped-3": f"{GROUP} models of the layout as one grouped model (HFTA), images/s per model, fast engine",
    "no-dropout": "the fast engine with the dropout layers removed: a ceiling, not a recipe",
}
DEFAULT_VARIANTS = tuple(VARIANTS)
PROFILED = ("plain", "fast")

FAMILIES = ("conv forward", "conv backward", "batch norm", "activation", "dropout", "pooling", "loss",
            "optimizer", "augmentation", "copies", "other")
# (family, words any of which in an op's name or its callers' names puts it there), in order:
# the optimizer, augmentation and dropout own everything they call; then the op itself decides
_BY_CALLER = (("optimizer", ("Optimizer.",)), ("augmentation", ("budgetnet::augment",)),
              ("dropout", ("Dropout", "dropout", "bernoulli")))
_BY_OP = (("conv backward", ("convolution_backward", "ConvolutionBackward")),
          ("conv forward", ("convolution", "conv2d")),
          ("batch norm", ("batch_norm", "BatchNorm")),
          ("pooling", ("max_pool", "MaxPool", "avg_pool", "mean", "Mean")),
          ("activation", ("relu", "threshold", "clamp", "Relu")),
          ("loss", ("cross_entropy", "log_softmax", "nll", "LogSoftmax", "Nll")),
          ("copies", ("copy_", "contiguous", "clone", "to_copy")))


@dataclass
class VariantResult:
    variant: str
    images_per_s: float
    vs_plain: float
    gflops: float
    peak_share: float   # of the GEMM measured in the same run
    setup_s: float      # building it and its first steps (torch.compile compiles then)


@dataclass
class StepBench:
    spec: str
    params: int
    macs_per_image: int
    batch: int
    threads: int
    cpu: dict
    gemm_gflops: float
    rounds: int
    variants: list[VariantResult] = field(default_factory=list)
    profiles: dict = field(default_factory=dict)  # variant -> {family: share of self CPU time}

    def to_dict(self) -> dict:
        return asdict(self)


def cpu_facts() -> dict:
    """The CPU model, the instruction sets that decide torch's kernels, and the one torch runs."""
    model, flags = platform.processor() or platform.machine(), set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")
    return {"model": model, "isa": [f for f in wanted if f in flags],
            "torch_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__}


def gemm_gflops(n: int = 1024, seconds: float = 1.0) -> float:
    """Single-precision matrix multiply GFLOP/s at the current thread count: this core's practical peak."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    per_call = _timed(lambda: a @ b, seconds)
    return 2 * n ** 3 / per_call / 1e9


def _timed(fn: Callable[[], object], seconds: float) -> float:
    fn()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        calls += 1
    return (time.perf_counter() - start) / calls


def plain_model(spec: Spec, seed: int) -> nn.Sequential:
    """The spec's layers as torch.nn writes them, with the compiled model's weights."""
    def plain(m: nn.Module) -> nn.Module:
        if isinstance(m, fastpool.MaxPool2d):
            return nn.MaxPool2d(m.kernel_size, m.stride, m.padding)
        if isinstance(m, fastdropout.Dropout):
            return nn.Dropout(m.p)
        return m
    return nn.Sequential(*[plain(m) for m in build(spec, backend="torch", seed=seed)])


def grouped_model(spec: Spec, groups: int, seed: int) -> nn.Sequential:
    """`groups` copies of the spec's layout as one network (HFTA's horizontal fusion): every conv
    becomes one conv with `groups` groups, every batch norm one over all copies' channels; the
    input is repeated per copy and the output holds each copy's logits side by side."""
    def fused(m: nn.Module) -> nn.Module:
        if isinstance(m, nn.Conv2d):
            return nn.Conv2d(m.in_channels * groups, m.out_channels * groups, m.kernel_size, m.stride, m.padding,
                             m.dilation, m.groups * groups, m.bias is not None)
        if isinstance(m, nn.BatchNorm2d):
            return nn.BatchNorm2d(m.num_features * groups)
        return m
    return nn.Sequential(*[fused(m) for m in build(spec, backend="torch", seed=seed)])


def make_step(variant: str, spec: Spec, x: torch.Tensor, y: torch.Tensor, mean, std, seed: int) -> Callable[[], None]:
    """One training step of `variant` on the batch (x, y), ready to call repeatedly."""
    cfg = spec.train
    if variant == "plain":
        model = plain_model(spec, seed).train()
        opt = make_optimizer(model.parameters(), cfg.optimizer)
        xn = normalize(x, mean, std)

        def plain_step():
            loss = F.cross_entropy(model(xn), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return plain_step
    model = (grouped_model(spec, GROUP, seed) if variant == "grouped-3" else build(spec, backend="torch", seed=seed)).train()
    if variant == "fast-inplace":
        for m in model.modules():
            if isinstance(m, nn.ReLU):
                m.inplace = True
    if variant == "no-dropout":
        model = nn.Sequential(*[m for m in model if not isinstance(m, nn.Dropout)])
    fmt = engine.prepare(model, "reference" if variant == "reference" else "fast", images=True)
    if variant == "fast-nchw":
        fmt = torch.contiguous_format
        model.to(memory_format=fmt)
    forward = torch.compile(model) if variant == "fast-compile" else model
    opt = make_optimizer(model.parameters(), cfg.optimizer)
    gen = torch.Generator().manual_seed(seed)
    bf16, onednn = variant == "fast-bf16", variant != "fast-no-onednn"
    copies = GROUP if variant == "grouped-3" else 1

    def engine_step():
        with record_function("budgetnet::augment"):
            xb = normalize(augment(x, cfg.augment, gen), mean, std)
            xb = (xb.repeat(1, copies, 1, 1) if copies > 1 else xb).contiguous(memory_format=fmt)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16), torch.backends.mkldnn.flags(enabled=onednn):
            logits = forward(xb)
            if copies > 1:  # each copy's own loss, summed: the copies' gradients stay apart
                logits = logits.reshape(len(xb), copies, -1).transpose(0, 1).reshape(-1, logits.shape[1] // copies)
            loss = F.cross_entropy(logits, y.repeat(copies), label_smoothing=cfg.label_smoothing) * copies
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return engine_step


def family(event) -> str:
    """The op family a profiler event's self time counts to (see _BY_CALLER, _BY_OP)."""
    chain, e = [], event
    while e is not None:
        chain.append(e.name)
        e = e.cpu_parent
    for fam, words in _BY_CALLER:
        if any(w in name for name in chain for w in words):
            return fam
    for name in chain:  # the op itself first, then its callers
        for fam, words in _BY_OP:
            if any(w in name for w in words):
                return fam
    return "other"


def profile_shares(step: Callable[[], None], steps: int = 20) -> dict[str, float]:
    """Share of the step's self CPU time per op family, over `steps` profiled steps."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    totals = dict.fromkeys(FAMILIES, 0.0)
    for e in prof.events():
        totals[family(e)] += e.self_cpu_time_total
    whole = sum(totals.values()) or 1.0
    return {k: round(v / whole, 4) for k, v in totals.items()}


def bench_step(spec="best_lean7k", variants=DEFAULT_VARIANTS, rounds: int = 7, steps_per_round: int = 10,
               seed: int = 0, on_round: Callable[[int], None] | None = None) -> StepBench:
    """Each variant's training images/s: `rounds` interleaved rounds of `steps_per_round` steps,
    the median round counted; `plain` always runs first as the baseline."""
    spec = load_spec(spec)
    if spec.is_text:
        raise UsageError(f"{spec.origin}: bench step times image models; this one reads text")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise UsageError(f"--variant: unknown {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    data = load_dataset()
    spec = spec.fitted(data.shape)
    batch, macs = spec.train.batch_size, summarize(spec).macs
    x, y = data.train.x[:batch], data.train.y[:batch]
    names = ["plain", *[v for v in variants if v != "plain"]]
    steps, setup = {}, {}
    for name in names:
        start = time.perf_counter()
        steps[name] = make_step(name, spec, x, y, data.mean, data.std, seed)
        for _ in range(3):
            steps[name]()
        setup[name] = time.perf_counter() - start
    per_round = {n: [] for n in names}
    for r in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(steps_per_round):
                step()
            models = GROUP if name == "grouped-3" else 1  # images/s per model
            per_round[name].append(models * batch * steps_per_round / (time.perf_counter() - start))
        if on_round:
            on_round(r + 1)
    peak = gemm_gflops()
    out = StepBench(spec.name, summarize(spec).params, macs, batch, torch.get_num_threads(), cpu_facts(),
                    round(peak, 1), rounds)
    base = statistics.median(per_round["plain"])
    for name in names:
        ips = statistics.median(per_round[name])
        gflops = 3 * 2 * macs * ips / 1e9  # forward, and backward at twice the forward's work
        out.variants.append(VariantResult(name, round(ips, 1), round(ips / base, 3), round(gflops, 2),
                                          round(gflops / peak, 4), round(setup[name], 2)))
    out.profiles = {name: profile_shares(steps[name]) for name in PROFILED if name in steps}
    return out
