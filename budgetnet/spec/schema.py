"""The spec: YAML (or a mapping) -> validated, immutable `Spec`, with every error located.

A spec has a model (`input`, `layers`), a training recipe (`train:`) and an optional budget
(`budget:`). Layer rows take any of these forms:

    - relu                          # op with no arguments
    - conv: {out: 8, k: 3}          # op with arguments
    - dropout: 0.05                 # scalar fills the op's main argument (here p)
    - {op: conv, out: 8, k: 3}      # flat form
    - repeat: {times: 2, layers: [...]}   # a block repeated

Any value may be a named placeholder `$name`; `load_spec(x, values={...})` fills it and the
filled value is validated like any other (search templates are specs with placeholders).
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

from budgetnet.errors import Issue, SpecError, pydantic_issues, short_repr
from budgetnet.spec.ops import OpArgs, get_op
from budgetnet.spec.shapes import infer, output

ZOO_DIR = Path(__file__).parent.parent / "zoo"
MAX_FILE_BYTES = 1 << 20
MAX_LAYERS = 10_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class OptimizerCfg(_Strict):
    name: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: float = Field(0.05, gt=0, le=10)
    momentum: float = Field(0.9, ge=0, lt=1)
    nesterov: bool = False
    weight_decay: float = Field(0.0, ge=0)


class SchedulerCfg(_Strict):
    name: Literal["none", "step", "onecycle", "cosine", "linear"] = "none"
    step_size: PositiveInt = 4          # step: epochs between decays
    gamma: float = Field(0.35, gt=0, le=1)
    pct_start: float = Field(0.25, gt=0, lt=1)  # onecycle: share of steps spent warming up
    div_factor: float = Field(25.0, gt=0)       # onecycle: start lr = lr / div_factor
    warmup_epochs: float = Field(0.0, ge=0)     # linear warm-up before step / cosine / linear


class AugmentCfg(_Strict):
    rotate: float = Field(0.0, ge=0, le=180)     # degrees, uniform in [-rotate, rotate]
    translate: float = Field(0.0, ge=0, lt=1)    # fraction of the side, each axis
    scale: float = Field(0.0, ge=0, lt=1)        # zoom factor in [1-scale, 1+scale]
    shear: float = Field(0.0, ge=0, lt=90)       # degrees
    hflip: bool = False                          # mirror a random half of each batch (natural images; never digits)


class DistillCfg(_Strict):
    """Knowledge distillation: the loss mixes cross-entropy with the KL divergence to a trained
    teacher's softened outputs. The teacher is never part of the student's parameter count."""
    teacher: str = Field(min_length=1)          # a budgetnet checkpoint path (relative: to the working directory)
    temperature: float = Field(4.0, gt=0, le=100)
    alpha: float = Field(0.5, ge=0, le=1)        # weight of the distillation term


DEFAULT_EPOCHS = 15  # a recipe's epochs when neither it nor a budget says: the target's 15


class TrainCfg(_Strict):
    epochs: int = Field(DEFAULT_EPOCHS, ge=1, le=1000)
    batch_size: int = Field(128, ge=1, le=65536)
    optimizer: OptimizerCfg = OptimizerCfg()
    scheduler: SchedulerCfg = SchedulerCfg()
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    augment: AugmentCfg = AugmentCfg()
    ema: float = Field(0.0, ge=0, lt=1)          # weight EMA decay per step (0: off); the average is evaluated and kept
    distill: Optional[DistillCfg] = None
    engine: Literal["fast", "fast-bf16", "reference"] = "fast"  # how steps are computed (budgetnet.training.engine)


class Budget(_Strict):
    """A spec's hard limits (inclusive; None: no limit). `check`'s Rules extend it."""
    max_params: Optional[PositiveInt] = None
    max_macs: Optional[PositiveInt] = None
    max_epochs: Optional[PositiveInt] = None
    min_accuracy: Optional[float] = Field(None, ge=0, le=1)
    max_model_bytes: Optional[PositiveInt] = None             # weights, in `dtype` (budgetnet.model.memory)
    max_peak_activation_bytes: Optional[PositiveInt] = None   # live activations at the peak, batch 1
    dtype: Literal["int8", "fp32"] = "int8"                   # what the byte limits count

    def exceeded(self, params: int, macs: int, epochs: int, model_bytes: int | None = None,
                 peak_bytes: int | None = None) -> str | None:
        """The first limit a model counted from its spec is over, as text; None when it fits.
        The byte counts are in this budget's dtype (budgetnet.model.memory)."""
        for what, actual, limit in (("params", params, self.max_params), ("MACs", macs, self.max_macs),
                                    ("epochs", epochs, self.max_epochs),
                                    (f"{self.dtype} weight bytes", model_bytes, self.max_model_bytes),
                                    (f"{self.dtype} peak activation bytes", peak_bytes, self.max_peak_activation_bytes)):
            if limit is not None and actual is not None and actual > limit:
                return f"{what} {actual:,} > {limit:,}"
        return None


class TokenInput(_Strict):
    """A text model's input: `tokens` ids (its context length) from a vocabulary of `vocab`
    symbols; its output is, per position, one logit per symbol (the next one's)."""
    tokens: PositiveInt = Field(le=1 << 16)
    vocab: PositiveInt = Field(le=1 << 20)


ImageInput = Annotated[list[PositiveInt], Field(min_length=3, max_length=3)]


class _Body(_Strict):
    """Everything but `layers`, which is parsed row by row against the op registry."""
    name: str = Field(min_length=1, max_length=200)
    source: str = ""
    notes: str = ""
    input: Union[ImageInput, TokenInput] = [1, 28, 28]   # [C, H, W], or {tokens: T, vocab: V}
    classes: PositiveInt = 10
    backend: Literal["torch", "custom"] = "torch"
    init: Literal["torch", "kaiming"] = "torch"
    train: TrainCfg = TrainCfg()
    budget: Budget = Budget()


@dataclass(frozen=True)
class LayerSpec:
    op: str
    args: OpArgs
    loc: tuple  # where the row sits in the YAML, for error messages


@dataclass(frozen=True)
class Spec:
    name: str
    input: tuple[int, ...]   # (C, H, W) for images, (T,) for text
    classes: int             # text: the vocabulary (one logit per symbol and position)
    backend: str
    init: str
    layers: tuple[LayerSpec, ...]
    train: TrainCfg
    budget: Budget
    source: str = ""
    vocab: int = 0          # text: the input's vocabulary; 0 for images
    origin: str = "<spec>"  # the file or zoo name it came from
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_text(self) -> bool:
        return self.vocab > 0

    def to_dict(self) -> dict:
        """The filled-in spec as plain data (YAML/JSON-safe); `load_spec` of it gives this spec."""
        return copy.deepcopy(dict(self.raw))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def with_epochs(self, epochs: int) -> "Spec":
        """This spec with its recipe's schedule over `epochs` (validated like any spec)."""
        raw = self.to_dict()
        raw.setdefault("train", {})["epochs"] = epochs
        return validate(raw, self.origin)

    def with_engine(self, engine: str) -> "Spec":
        """This spec pinned to `engine` (budgetnet.training.engine), written first in its recipe even
        where it is the default, so that a retrain runs it whatever the default is then."""
        raw = self.to_dict()
        raw["train"] = {"engine": engine, **{k: v for k, v in raw.get("train", {}).items() if k != "engine"}}
        return validate(raw, self.origin)

    def with_distill(self, cfg: "DistillCfg") -> "Spec":
        """This spec also learning from `cfg`'s teacher (its recipe's `distill`)."""
        raw = self.to_dict()
        raw.setdefault("train", {})["distill"] = cfg.model_dump()
        return validate(raw, self.origin)

    def fitted(self, shape) -> "Spec":
        """This spec on the data's image shape where it leaves `input` out (a spec that states it
        is returned as it is; its user checks it against the data). A spec that leaves `classes`
        out has as many as the network has outputs, checked against the data the same way."""
        if "input" in self.raw or self.is_text:
            return self
        return validate({**self.to_dict(), "input": list(shape)}, self.origin)


# ------------------------------------------------------------------------------ loading
def load_spec(x: Union[str, Path, Mapping, Spec], values: Mapping[str, Any] | None = None) -> Spec:
    """A zoo name, a YAML path, a mapping or a Spec -> validated Spec (raises SpecError)."""
    if isinstance(x, Spec):
        return x if not values else load_spec(x.to_dict(), values)
    origin, raw = read_raw(x)
    if values:
        raw = fill(raw, values)
    return validate(raw, origin)


def read_raw(x: Union[str, Path, Mapping]) -> tuple[str, dict]:
    """Locate and parse a spec source into (origin, mapping) without validating it."""
    if isinstance(x, Mapping):
        return "<mapping>", copy.deepcopy(dict(x))
    path = Path(x)
    bare_name = isinstance(x, str) and "/" not in x and not x.endswith((".yaml", ".yml"))
    # a bare name is a zoo model unless a file of that name exists (a directory does not count:
    # `budgetnet train mnistnet3 --out mnistnet3` must find the zoo model the second time too)
    if bare_name and not path.is_file():
        return f"zoo:{x}", read_yaml_file(zoo_path(x), x)
    return str(x), read_yaml_file(path, str(x))


def zoo_path(name: str) -> Path:
    path = ZOO_DIR / f"{name}.yaml"
    if not path.is_file():
        close = difflib.get_close_matches(name, zoo_names(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see `budgetnet zoo`"
        raise SpecError(name, [Issue((), f"no such file, and no zoo model named {name!r}{hint}")])
    return path


def zoo_names() -> list[str]:
    return sorted(p.stem for p in ZOO_DIR.glob("*.yaml"))


def read_yaml_file(path: Path, source: str, kind: type = dict):
    """A YAML file's top-level mapping (or list, with kind=list), every problem a located SpecError."""
    def fail(msg: str):
        raise SpecError(source, [Issue((), msg)])

    if not path.exists():
        fail("file not found")
    if not path.is_file():
        fail("not a regular file")
    if path.stat().st_size > MAX_FILE_BYTES:
        fail(f"file is larger than {MAX_FILE_BYTES} bytes; a spec is a few kB")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        fail(f"not UTF-8 text (byte {e.start}); is this a YAML spec?")
    except OSError as e:
        fail(f"cannot read: {e.strerror}")
    return parse_yaml(text, source, kind)


def parse_yaml(text: str, source: str, kind: type = dict):
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise SpecError(source, [Issue((), f"YAML error at {where}{e.problem or e.context}")]) from None
    except yaml.YAMLError as e:
        raise SpecError(source, [Issue((), f"YAML error: {short_repr(str(e))}")]) from None
    except RecursionError:
        raise SpecError(source, [Issue((), "YAML nesting is too deep")]) from None
    if data is None:
        raise SpecError(source, [Issue((), "empty file; expected a mapping with name and layers")])
    if not isinstance(data, kind):
        expected = "a mapping" if kind is dict else "a list"
        raise SpecError(source, [Issue((), f"expected {expected} at the top level, got {type(data).__name__}")])
    return data


# ------------------------------------------------------------------------------ placeholders
def _is_hole(v: Any) -> bool:
    return isinstance(v, str) and v.startswith("$") and len(v) > 1


def holes(raw: Any) -> set[str]:
    """Names of the `$name` placeholders in a raw spec. Each container is visited once, so a
    YAML alias bomb (the same list referenced 9 times, 9 levels deep) costs nothing."""
    found: set[str] = set()
    seen: set[int] = set()
    stack = [raw]
    while stack:
        v = stack.pop()
        if _is_hole(v):
            found.add(v[1:])
        elif isinstance(v, (dict, list)) and id(v) not in seen:
            seen.add(id(v))
            stack.extend(v.values() if isinstance(v, dict) else v)
    return found


def fill(raw: Any, values: Mapping[str, Any]) -> Any:
    """A copy of raw with each `$name` replaced by values[name] (unknown names stay)."""
    if _is_hole(raw):
        return values.get(raw[1:], raw)
    if isinstance(raw, dict):
        return {k: fill(v, values) for k, v in raw.items()}
    if isinstance(raw, list):
        return [fill(v, values) for v in raw]
    return raw


# ------------------------------------------------------------------------------ validation
def validate(raw: dict, origin: str = "<mapping>") -> Spec:
    issues: list[Issue] = []
    unfilled = sorted(holes(raw))
    if unfilled:
        issues.append(Issue((), f"unfilled placeholders: {', '.join('$' + h for h in unfilled)}"))
    body_raw = {k: v for k, v in raw.items() if k != "layers"}
    body = None
    try:
        body = _Body.model_validate(body_raw)
    except ValidationError as e:
        issues += pydantic_issues(e, ())
    if "layers" not in raw:
        issues.append(Issue(("layers",), "Field required"))
        layers = []
    else:
        layers = parse_layers(raw["layers"], ("layers",), issues)
    if issues:
        raise SpecError(origin, issues)
    text = isinstance(body.input, TokenInput)
    spec = Spec(
        name=body.name, input=(body.input.tokens,) if text else tuple(body.input),
        classes=body.input.vocab if text else body.classes, backend=body.backend,
        init=body.init, layers=tuple(layers), train=body.train, budget=body.budget,
        source=body.source, vocab=body.input.vocab if text else 0, origin=origin, raw=raw,
    )
    if text and "classes" in raw:
        raise SpecError(origin, [Issue(("classes",), "a text spec has no classes: its outputs are the vocabulary "
                                                     "(input.vocab)")])
    if "classes" not in raw and not text:  # left out: as many classes as the network has outputs (checked against the data)
        _, out = output(spec)
        if out.kind == "vector" and len(out.shape) == 1:
            spec = dataclasses.replace(spec, classes=out.shape[0])
    infer(spec)  # raises SpecError on a collapsing shape or a wrong output size
    return spec


def parse_layers(rows: Any, loc: tuple, issues: list[Issue], depth: int = 0) -> list[LayerSpec]:
    if not isinstance(rows, list):
        issues.append(Issue(loc, f"expected a list of layers, got {type(rows).__name__}"))
        return []
    if not rows:
        issues.append(Issue(loc, "expected at least one layer"))
    out: list[LayerSpec] = []
    for i, row in enumerate(rows):
        out += _parse_row(row, loc + (i,), issues, depth)
        if len(out) > MAX_LAYERS:
            issues.append(Issue(loc, f"more than {MAX_LAYERS} layers after expanding repeats"))
            return []
    return out


def _parse_row(row: Any, loc: tuple, issues: list[Issue], depth: int) -> list[LayerSpec]:
    if isinstance(row, str):
        op, args = row, {}
    elif isinstance(row, dict) and "op" in row:
        op, args = row["op"], {k: v for k, v in row.items() if k != "op"}
    elif isinstance(row, dict) and len(row) == 1:
        (op, args), = row.items()
    else:
        issues.append(Issue(loc, f"expected an op name or a one-key mapping like 'conv: {{out: 8}}', got {short_repr(row)}"))
        return []
    if not isinstance(op, str):
        issues.append(Issue(loc, f"op name must be a string, got {short_repr(op)}"))
        return []
    if op == "repeat":
        return _parse_repeat(args, loc + ("repeat",), issues, depth)
    try:
        opdef = get_op(op)
    except KeyError as e:
        issues.append(Issue(loc, e.args[0]))
        return []
    if args is None:
        args = {}
    elif not isinstance(args, dict):
        if opdef.shorthand is None:
            issues.append(Issue(loc + (op,), f"{op} takes no value, got {short_repr(args)}"))
            return []
        args = {opdef.shorthand: args}
    try:
        return [LayerSpec(op, opdef.args.model_validate(args), loc + (op,))]
    except ValidationError as e:
        issues += pydantic_issues(e, loc + (op,))
        return []


def _parse_repeat(args: Any, loc: tuple, issues: list[Issue], depth: int) -> list[LayerSpec]:
    if depth > 8:
        issues.append(Issue(loc, "repeats nested more than 8 deep"))
        return []
    if not isinstance(args, dict) or set(args) != {"times", "layers"}:
        issues.append(Issue(loc, "expected {times: N, layers: [...]}"))
        return []
    times = args["times"]
    if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= 1000:
        issues.append(Issue(loc + ("times",), f"expected an integer from 1 to 1000, got {short_repr(times)}"))
        return []
    block = parse_layers(args["layers"], loc + ("layers",), issues, depth + 1)
    if len(block) * times > MAX_LAYERS:
        issues.append(Issue(loc, f"more than {MAX_LAYERS} layers after expanding repeats"))
        return []
    return block * times

