"""The general family: every sample of its space is a valid spec filled into [0.85 N, N], for
budgets from 1,000 to 100,000; the count is exact; rungs promote the top third."""
import os
import random
from pathlib import Path

import optuna
import pytest
import torch
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

import budgetnet
from budgetnet.search import space
from budgetnet.errors import SpecError, UsageError
from budgetnet.search.rungs import next_promotion, parse_rungs, rung_epochs
from budgetnet.search.definition import load_search

REPORTS = Path(__file__).resolve().parents[1] / "reports"


def random_values(search, rnd: random.Random) -> dict:
    values = {}
    for name, d in search.space.items():
        if d.int is not None:
            values[name] = rnd.randint(*d.int)
        elif d.float is not None or d.log is not None:
            values[name] = rnd.uniform(*(d.float or d.log))
        else:
            values[name] = rnd.choice(list(d.categorical))
    return values


@pytest.mark.parametrize("budget", [1_000, 3_000, 7_000, 20_000, 100_000])
def test_every_sample_is_valid_and_filled_to_the_budget(budget):
    search = load_search("general").with_budget(max_params=budget)
    rnd = random.Random(budget)
    fills = []
    for _ in range(40):
        cand = search.candidate(random_values(search, rnd), epochs=2)
        params = budgetnet.count_params(cand.spec)
        assert space.MIN_FILL * budget <= params <= budget, (cand.arch, params)
        assert cand.fill == params / budget and cand.spec.train.epochs == 2
        fills.append(cand.fill)
    assert min(fills) >= space.MIN_FILL


@pytest.mark.parametrize("budget", [1_000, 7_000])
def test_the_analytic_count_is_the_built_count(budget):
    search = load_search("general").with_budget(max_params=budget)
    rnd = random.Random(7)
    for _ in range(5):
        cand = search.candidate(random_values(search, rnd))
        model = budgetnet.build(cand.spec)
        assert model.num_params() == budgetnet.count_params(cand.spec)


def test_the_shipped_winner_is_a_point_of_the_family():
    """best_lean7k's structure and recipe, filled to its own budget: the same layout and recipe."""
    search = load_search("general")
    cand = search.candidate(search.reference[0])
    assert cand.arch == "7-19 / pool t9 / 15-15-15" and 6_840 <= budgetnet.count_params(cand.spec) <= 6_999
    lean = budgetnet.load_spec("best_lean7k")
    assert [r.op for r in cand.spec.layers] == [r.op for r in lean.layers]
    assert cand.spec.train.scheduler.name == "onecycle" and cand.spec.train.batch_size == 64


def test_smallest_model_fits_exactly_its_own_budget():
    search = load_search("general")
    smallest = search.smallest_params()
    assert 100 < smallest < 1_000
    tiny = search.with_budget(max_params=smallest)
    rnd = random.Random(0)
    for _ in range(10):  # every structure shrinks to fit (convs dropped, last stage first)
        assert budgetnet.count_params(tiny.candidate(random_values(tiny, rnd)).spec) <= smallest


def test_rung_epochs_are_geometric_and_end_at_the_budget():
    assert rung_epochs(15) == [1, 15] and rung_epochs(15, count=3) == [1, 4, 15] and rung_epochs(30) == [2, 30]
    assert rung_epochs(3) == [1, 3] and rung_epochs(1) == [1] and rung_epochs(5, count=3) == [1, 2, 5]
    assert parse_rungs("3,15", 15) == [3, 15]
    for bad in ("5,3", "0,3", "2,20", "a"):
        with pytest.raises(UsageError, match="--rungs"):
            parse_rungs(bad, 15)


def _trial(number, rung, val, candidate=None, status="complete"):
    t = create_trial(state=TrialState.COMPLETE, value=val, params={"x": float(number)},
                     distributions={"x": FloatDistribution(0, 1000)},
                     user_attrs={"rung": rung, "candidate": number if candidate is None else candidate,
                                 "seed": 100 + number, "val_acc": val, "status": status, "params": 1000})
    t.number = number
    return t


def test_promotion_takes_the_top_third_highest_rung_first():
    rungs = [2, 5, 15]
    r0 = [_trial(i, 0, v) for i, v in enumerate([0.90, 0.95, 0.93])]
    assert next_promotion(r0[:2], rungs) is None  # fewer than eta finished: nobody is in a top third yet
    params, p = next_promotion(r0, rungs)
    assert (p.candidate, p.rung, p.seed, params) == (1, 1, 101, {"x": 1.0})
    promoted = r0 + [_trial(3, 1, 0.97, candidate=1)]
    assert next_promotion(promoted, rungs) is None  # candidate 1 already has its rung-1 trial
    six = promoted + [_trial(i, 0, v) for i, v in zip(range(4, 7), [0.96, 0.80, 0.81])]
    assert next_promotion(six, rungs)[1].candidate == 4  # the top two of six: 1 (done) and 4
    three_r1 = six + [_trial(7, 1, 0.99, candidate=4), _trial(8, 1, 0.90, candidate=0)]
    _, p = next_promotion(three_r1, rungs)
    assert (p.rung, p.candidate) == (2, 4)  # a finishing candidate goes before a new rung-1 one


def test_promotions_survive_the_study(tmp_path):
    """Promotion state is nothing but the study: a fresh process sees the same next promotion."""
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}", study_name="s", direction="maximize")
    for t in [_trial(i, 0, v) for i, v in enumerate([0.9, 0.95, 0.93])]:
        study.add_trial(t)
    again = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 's.db'}")
    assert next_promotion(again.get_trials(), [2, 5, 15])[1].candidate == 1


def test_trial_record_reads_what_it_saved_and_old_studies():
    """One mapping between the typed record and Optuna's attributes, both ways; attributes written
    before the record existed (the committed studies) read the same."""
    from budgetnet.search.record import TrialRecord, status_of

    study = optuna.create_study()
    trial = study.ask()
    rec = TrialRecord().save(trial, rung=1, candidate=4, seed=7, params=123, status="complete", val_acc=0.5)
    assert TrialRecord.of(trial) == rec and rec.complete and rec.trained and rec.params == 123
    assert rec.start_attrs() == {"rung": 1, "candidate": 4, "seed": 7}
    assert TrialRecord.of(study.ask()) == TrialRecord() and status_of(study.trials[-1]) == "running"
    old = optuna.load_study(study_name="lean7k-6999", storage=f"sqlite:///{REPORTS / 'lean7k' / 'study.db'}").trials
    recs = [TrialRecord.of(t) for t in old]
    assert sum(r.complete for r in recs) > 0 and all(r.params for r in recs if r.trained)
    assert {status_of(t) for t in old} <= {"complete", "pruned", "over_budget", "invalid", "failed", "interrupted"}


def test_enqueue_points_are_checked_against_the_space(tmp_path):
    from budgetnet.search.definition import load_points

    search = load_search("lean7k")
    assert len(load_points(REPORTS / "lean7k" / "enqueue.yaml", search)) == 3
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {c1: 8}\n")
    with pytest.raises(SpecError, match=r"bad.yaml:\[0\]: must set exactly"):
        load_points(bad, search)
    bad.write_text("c1: 8\n")
    with pytest.raises(SpecError, match="expected a list"):
        load_points(bad, search)


def _facts(shape, classes):
    from budgetnet.data.datasets import DataFacts
    return DataFacts("synthetic", "synthetic", "npz", shape, classes, None, (0.5,) * shape[0], (0.2,) * shape[0],
                     1000, 100, "x" * 64)


@pytest.mark.parametrize("shape,classes", [((1, 8, 8), 10), ((1, 28, 28), 10), ((3, 32, 32), 5), ((3, 64, 64), 100)])
def test_the_general_family_fits_any_input_and_class_count(shape, classes):
    """8x8 digits to 64x64 colour: every sample builds for the shape, ends in one logit per class,
    fills [0.85 N, N], pools only while the map allows; too small a budget is refused."""
    budget = 7_000
    search = load_search("general").for_command(budget, data=_facts(shape, classes), augment="natural")
    assert search.min_accuracy is None  # the definition's floor is MNIST's
    rnd = random.Random(sum(shape) + classes)
    for _ in range(12):
        cand = search.candidate(random_values(search, rnd), epochs=1)
        spec = cand.spec
        assert tuple(spec.input) == shape and spec.classes == classes
        assert space.MIN_FILL * budget <= budgetnet.count_params(spec) <= budget, cand.arch
        assert spec.train.augment.hflip and spec.train.augment.rotate == 0
        model = budgetnet.build(spec)
        assert model(torch.zeros(2, *shape)).shape == (2, classes)
        assert model.num_params() == budgetnet.count_params(spec)
        rows = budgetnet.summarize(spec).rows
        for before, row in zip(rows, rows[1:]):  # a pool only on a map of MIN_POOL_SIDE or more
            if row.op == "maxpool":
                assert min(before.out_shape[1:]) >= space.MIN_POOL_SIDE
    smallest = search.smallest_params()
    with pytest.raises(SpecError, match="below the smallest model"):
        load_search("general").for_command(smallest - 1, data=_facts(shape, classes))


def test_flash_ram_and_mac_budgets_are_never_exceeded_and_the_tightest_is_filled():
    """The uNAS MNIST bounds (4,500 B int8 weights, 2,500 B peak activations): a RAM budget adds a
    stride-2 stem to the family; every sample fits every limit and fills its tightest one."""
    search = load_search("general").for_command(None, max_model_bytes=4_500, max_peak_activation_bytes=2_500,
                                                max_macs=2_000_000)
    assert "stem_stride" in search.space
    rnd = random.Random(11)
    for _ in range(15):
        cand = search.candidate(random_values(search, rnd), epochs=1)
        s = budgetnet.summarize(cand.spec)
        assert s.memory.int8_weight_bytes <= 4_500 and s.memory.peak_bytes() <= 2_500 and s.macs <= 2_000_000
        assert s.params <= search.budget.max_params and cand.fill >= space.MIN_FILL
    with pytest.raises(SpecError, match="max_peak_activation_bytes: budget 1,000 int8 peak activation bytes is below"):
        load_search("general").for_command(None, max_peak_activation_bytes=1_000)


def test_validation_readings_carry_their_binomial_interval():
    from budgetnet.search.record import wilson

    lo, hi = wilson(0.994, 5_000)
    assert 0.9913 < lo < 0.9916 and 0.9957 < hi < 0.9959  # +-0.2 points: a 99.40% floor is noisy
    lo, hi = wilson(1.0, 100)
    assert hi == pytest.approx(1.0) and lo < 0.97


def test_candidate_zero_is_promoted_once_with_its_own_seed():
    """Trial 0 (a warm-start reference) was promoted again and again, each time under another
    seed: its record's candidate 0 and seed 0 were dropped as if they were False."""
    from budgetnet.search.record import TrialRecord

    study = optuna.create_study(direction="maximize")
    for i, v in enumerate([0.99, 0.90, 0.91]):
        t = _trial(i, 0, v)
        t.user_attrs["seed"] = i
        study.add_trial(t)
    params, rec = next_promotion(study.get_trials(), [3, 15])
    assert (rec.candidate, rec.seed) == (0, 0) and rec.start_attrs() == {"rung": 1, "candidate": 0, "seed": 0}
    study.enqueue_trial(params, user_attrs=rec.start_attrs())
    promoted = study.ask()  # the worker takes the queued promotion
    assert TrialRecord.of(promoted) == TrialRecord(rung=1, candidate=0, seed=0)
    assert next_promotion(study.get_trials(), [3, 15]) is None  # started once: never again


def test_study_record_reads_what_it_saved_and_old_studies():
    from budgetnet.search.record import StudyRecord

    study = optuna.create_study()
    rec = StudyRecord("unas", {"max_params": 6999}, 0.99, [3, 15], True)
    rec.save(study)
    assert StudyRecord.of(study) == rec
    old = optuna.load_study(study_name="lean7k-6999", storage=f"sqlite:///{REPORTS / 'lean7k' / 'study.db'}")
    assert StudyRecord.of(old) == StudyRecord("lean7k", {"max_params": 6999, "max_epochs": 15}, 0.994)


def test_a_single_worker_search_runs_with_the_threads_it_is_given(monkeypatch, tmp_path):
    """--workers 1 --threads 1 trains in the search's own process: it must use one thread, as its
    first line says (it used torch's default, every core)."""
    import torch
    from budgetnet.search import run
    from budgetnet.search.definition import load_search
    from budgetnet.search.options import SearchOptions

    seen = []
    monkeypatch.setattr(run, "run_worker", lambda *a, **k: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # not 1 already, on any machine: the search must set it
    try:
        run.run_search(load_search("lean7k"), SearchOptions(out=tmp_path, workers=1, threads=1, trials=1))
    finally:
        torch.set_num_threads(before)
    assert seen == [1]


def test_a_point_fills_to_the_same_structure_in_every_process():
    """A set of strings iterates in an order that changes with PYTHONHASHSEED: the top-up once
    broke ties by it, and a worker and the finalizer filled one point to two structures."""
    import subprocess
    import sys

    code = ("import random; from budgetnet.search.definition import load_search; "
            "from tests.test_space import random_values; s = load_search('general').with_budget(max_params=6999); "
            "rnd = random.Random(0); print([s.candidate(random_values(s, rnd)).arch for _ in range(12)])")
    root = Path(__file__).resolve().parents[1]
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True,
                           env={**os.environ, "PYTHONHASHSEED": str(h)}).stdout for h in (1, 2, 3)}
    assert len(runs) == 1, runs
