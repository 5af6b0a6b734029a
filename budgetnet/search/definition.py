"""Search definitions (`budgetnet/search/searches/*.yaml`, the one home of the shipped ones): the range
of each searched value, the budget, the accuracy target and reference configs to run first; and
either a template spec with `$holes` (family: template) or the general CNN family filled to the
budget (family: general, budgetnet/search/space.py)."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError, model_validator

from budgetnet.search import space as general_space
from budgetnet.data.datasets import DataFacts
from budgetnet.errors import DataError, Issue, SpecError, pydantic_issues
from budgetnet.spec.schema import DEFAULT_EPOCHS, Budget, DistillCfg, Spec, TrainCfg, holes, load_spec, read_raw, read_yaml_file

SEARCH_DIR = Path(__file__).parent / "searches"


class Dist(BaseModel):
    """One hole's range: exactly one of int / float / log / categorical."""
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    # strict=False on a field lets YAML's lists stand for tuples; the items stay strict
    int: Optional[tuple[StrictInt, StrictInt]] = Field(None, strict=False)
    float: Optional[tuple[StrictFloat, StrictFloat]] = Field(None, strict=False)
    log: Optional[tuple[StrictFloat, StrictFloat]] = Field(None, strict=False)
    categorical: Optional[tuple[Any, ...]] = Field(None, strict=False)

    @model_validator(mode="after")
    def _one(self):
        given = [k for k in ("int", "float", "log", "categorical") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of int, float, log, categorical")
        lo_hi = getattr(self, given[0])
        if given[0] != "categorical" and not lo_hi[0] <= lo_hi[1]:
            raise ValueError(f"low {lo_hi[0]} is above high {lo_hi[1]}")
        if given[0] == "log" and lo_hi[0] <= 0:
            raise ValueError("log range must be positive")
        if given[0] == "categorical" and not lo_hi:
            raise ValueError("categorical needs at least one choice")
        return self

    def suggest(self, trial, name: str):
        if self.int is not None:
            return trial.suggest_int(name, *self.int)
        if self.float is not None:
            return trial.suggest_float(name, *self.float)
        if self.log is not None:
            return trial.suggest_float(name, *self.log, log=True)
        return trial.suggest_categorical(name, list(self.categorical))

    def example(self):
        """A value of the range, used to validate the template's types."""
        return next(v for v in (self.int, self.float, self.log, self.categorical) if v is not None)[0]


@dataclass(frozen=True)
class Candidate:
    """A sampled model: its spec, and for the general family how it was filled to the budget."""
    spec: Spec
    fill: float | None = None   # params / budget, for the general family
    arch: str = ""


class SearchDef(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    name: str = Field(min_length=1)
    description: str = ""
    family: Literal["template", "general"] = "template"
    budget: Budget
    min_accuracy: Optional[float] = Field(None, ge=0, le=1)  # validation floor; None: maximise, nothing is "feasible"
    floor_for: Literal["mnist", "any"] = "mnist"  # the data `min_accuracy` was written for (other data: no floor)
    augment: Literal["digits", "natural", "none"] = "digits"  # the general family's augmentation kind
    input: Optional[tuple[int, int, int]] = Field(None, strict=False)  # the data's (C, H, W); None: MNIST's
    classes: Optional[int] = None
    space: dict[str, Dist]
    reference: tuple[dict[str, Any], ...] = Field((), strict=False)
    template: dict[str, Any] = {}
    distill: Optional[DistillCfg] = None  # every candidate also learns from this teacher (never counted in its params)
    origin: str = "<search>"

    def spec(self, values: dict[str, Any], epochs: int | None = None) -> Spec:
        """The model of `values`, validated like any spec (raises SpecError)."""
        return self.candidate(values, epochs).spec

    def candidate(self, values: dict[str, Any], epochs: int | None = None) -> Candidate:
        """The model of `values` with `epochs` (default: the budget's, else the template's)."""
        if self.family == "general":
            f = general_space.fill(values, general_space.Limits.of(self.budget), epochs or self.top_epochs(), self.name,
                                   self.target())
            return Candidate(self._taught(f.spec), f.fill, f.arch)
        spec = load_spec(self.template, values)
        return Candidate(self._taught(spec.with_epochs(epochs) if epochs else spec))

    def _taught(self, spec: Spec) -> Spec:
        return spec.with_distill(self.distill) if self.distill else spec

    def smallest_params(self) -> int | None:
        """The smallest model the space holds (general family), else None (unknown)."""
        return self.smallest_costs().get("params")

    def smallest_costs(self) -> dict[str, int]:
        """The least params, MACs, flash and RAM bytes of the space's models (general family; {}: unknown)."""
        return general_space.smallest(self.space, self.target(), self.budget.dtype) if self.family == "general" else {}

    def target(self) -> general_space.Target:
        return general_space.Target(tuple(self.input or general_space.MNIST_SHAPE), self.classes or 10, self.augment)

    def over_budget(self, summary, epochs: int) -> str | None:
        """The first limit of the budget a counted model (a model.compile Summary) trained for
        `epochs` is over, as text; None when it fits."""
        b = self.budget
        return b.exceeded(summary.params, summary.macs, epochs, summary.memory.weight_bytes(b.dtype),
                          summary.memory.peak_bytes(b.dtype))

    def engine(self) -> str:
        """The training engine its candidates run: the template's, else the schema's default."""
        return (self.template.get("train") or {}).get("engine", TrainCfg.model_fields["engine"].default)

    def top_epochs(self) -> int:
        """The longest schedule a candidate trains: the budget's epochs, else the default."""
        return self.budget.max_epochs or DEFAULT_EPOCHS

    def for_command(self, max_params: int | None = None, min_accuracy: float | None = None,
                    data: DataFacts | None = None, augment: str | None = None, teacher: str | None = None,
                    **limits) -> "SearchDef":
        """This search with a command's overrides, for the data it will train on (its shape and
        classes; a floor written for MNIST is dropped on other data unless given again); `teacher`
        (a checkpoint) distils into every candidate with the file's temperature and alpha, else the
        defaults. Refused (SpecError) when the budget is below the smallest model the space holds
        for that data."""
        s = self.with_budget(max_params=max_params, **limits)
        update: dict[str, Any] = {}
        if data is not None:
            update |= {"input": tuple(data.shape), "classes": data.classes}
            if s.floor_for == "mnist" and not data.is_mnist:
                update["min_accuracy"] = None
        if min_accuracy is not None:
            update |= {"min_accuracy": min_accuracy, "floor_for": "any"}
        if augment is not None:
            update["augment"] = augment
        if teacher is not None:
            update["distill"] = DistillCfg(**{**(s.distill.model_dump() if s.distill else {}), "teacher": teacher})
        if s.family == "general" and s.budget.max_peak_activation_bytes is not None:  # what cuts RAM joins the space
            update["space"] = {**{k: Dist.model_validate(d) for k, d in general_space.RAM_SPACE.items()}, **s.space}
        s = s.model_copy(update=update)
        if data is not None and s.family == "template":
            try:
                example = s.spec({k: d.example() for k, d in s.space.items()})
            except SpecError:  # an example that collapses says nothing about the data
                example = None
            if example is not None and list(example.input) != list(data.shape) or example.classes != data.classes:
                raise DataError(f"{s.origin}: the template builds input {list(example.input)} with {example.classes} "
                                f"classes; {data.name} has images {list(data.shape)} and {data.classes} classes "
                                "(the general family fits any data)")
        least = s.smallest_costs()
        b = s.budget
        for key, field, limit, unit in (("params", "max_params", b.max_params, "params"),
                                        ("MACs", "max_macs", b.max_macs, "MACs"),
                                        ("flash", "max_model_bytes", b.max_model_bytes, f"{b.dtype} weight bytes"),
                                        ("RAM", "max_peak_activation_bytes", b.max_peak_activation_bytes,
                                         f"{b.dtype} peak activation bytes")):
            if limit is not None and key in least and least[key] > limit:
                raise SpecError(s.name, [Issue(("budget", field), f"budget {limit:,} {unit} is below the smallest "
                                               f"model of this search ({least[key]:,} {unit}); nothing to search")])
        return s

    def with_budget(self, **limits) -> "SearchDef":
        update = {k: v for k, v in limits.items() if v is not None}
        return self.model_copy(update={"budget": self.budget.model_copy(update=update)}) if update else self


def search_names() -> list[str]:
    return sorted(p.stem for p in SEARCH_DIR.glob("*.yaml"))


def load_search(x: Union[str, Path]) -> SearchDef:
    """A search file path or shipped name -> validated SearchDef (raises SpecError, located)."""
    if isinstance(x, str) and not Path(x).exists() and "/" not in x and not x.endswith((".yaml", ".yml")):
        path = SEARCH_DIR / f"{x}.yaml"
        if not path.is_file():
            close = difflib.get_close_matches(x, search_names(), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else f"; shipped: {', '.join(search_names())}"
            raise SpecError(x, [Issue((), f"no such file, and no shipped search named {x!r}{hint}")])
        x = path
    origin, raw = read_raw(x)
    try:
        search = SearchDef.model_validate({**raw, "origin": origin})
    except ValidationError as e:
        raise SpecError(origin, pydantic_issues(e)) from None
    if search.family == "general":
        return _check_general(search)
    issues = []
    if not search.template:
        issues.append(Issue(("template",), "a template search needs a template spec"))
    needed, given = holes(search.template), set(search.space)
    if needed - given:
        issues.append(Issue(("space",), f"holes without a range: {', '.join(sorted(needed - given))}"))
    if given - needed:
        issues.append(Issue(("space",), f"ranges for holes the template does not use: {', '.join(sorted(given - needed))}"))
    issues += point_issues(search.reference, given, ("reference",))
    if issues:
        raise SpecError(origin, issues)
    try:  # the template's types, checked with a value from each range
        search.spec({k: d.example() for k, d in search.space.items()})
    except SpecError as e:
        if not any("larger than its input" in i.msg for i in e.issues):  # a collapsing example is fine
            raise SpecError(origin, [Issue(("template",) + i.loc, i.msg) for i in e.issues]) from None
    return search


def _check_general(search: SearchDef) -> SearchDef:
    issues = []
    keys, given = set(general_space.KEYS), set(search.space)
    if keys - given:
        issues.append(Issue(("space",), f"the general family needs ranges for: {', '.join(sorted(keys - given))}"))
    if given - keys - set(general_space.OPTIONAL):
        issues.append(Issue(("space",), f"the general family has no value named: "
                                        f"{', '.join(sorted(given - keys - set(general_space.OPTIONAL)))}"))
    if search.template:
        issues.append(Issue(("template",), "the general family builds its own layers; remove the template"))
    issues += point_issues(search.reference, keys, ("reference",), set(general_space.OPTIONAL))
    if issues:
        raise SpecError(search.origin, issues)
    return search


def point_issues(points, keys: set[str], loc: tuple, optional: set[str] = frozenset()) -> list[Issue]:
    """Points of a space (references, enqueued trials) must each set exactly its values (an
    optional one may be left out: the sampler fills it)."""
    return [Issue(loc + (i,), f"must set exactly {sorted(keys)}" + (f" (and may set {sorted(optional)})" if optional else ""))
            for i, p in enumerate(points) if not isinstance(p, dict) or not keys <= set(p) <= keys | optional]


def load_points(path: str | Path, search: SearchDef) -> tuple[dict, ...]:
    """A YAML list of points of the search's space (`search --enqueue FILE`): trials to run
    before the sampler's own, selected or not on validation accuracy like any other."""
    origin = str(path)
    raw = read_yaml_file(Path(path), origin, kind=list)
    general = search.family == "general"
    keys = set(general_space.KEYS) if general else set(search.space)
    issues = point_issues(raw, keys, (), set(general_space.OPTIONAL) if general else frozenset())
    if issues:
        raise SpecError(origin, issues)
    return tuple(raw)


DEFAULT_SEARCH = "general"  # what `budgetnet search --max-params N` runs without a file: it fills any budget

