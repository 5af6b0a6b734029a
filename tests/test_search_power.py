"""Search power (issue 27): the cost model and the cost-aware start, Sobol start-up points, the
prior distilled from the committed studies, and each trial's validation interval."""
import json
from dataclasses import replace
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from budgetnet.cli import app
from budgetnet.model.compile import summarize
from budgetnet.search import cost, prior
from budgetnet.search.cost import CostCap, predicted_seconds
from budgetnet.search.definition import load_search
from budgetnet.search.record import records
from budgetnet.search.sampler import SobolThenTPE

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
TINY = ["--max-params", "3000", "--epochs", "1", "--subset", "300", "--workers", "1", "--threads", "1",
        "--no-warm-start", "--no-retrain"]


def _study(out, name="general-3000"):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'study.db'}")


def test_the_cost_model_is_the_fit_of_the_committed_studies():
    r = cost.fit(ROOT)
    assert (r["macs_s"], r["acts_s"], r["base_s"]) == (cost.MACS_S, cost.ACTS_S, cost.BASE_S)
    assert r["r2"] > r["r2_macs_only"]  # activations explain what MACs alone do not


def test_predicted_cost_grows_with_epochs_images_and_activations():
    family = load_search("general").with_budget(max_params=6999)
    lean = summarize(family.candidate(family.reference[0], 15).spec)
    assert predicted_seconds(lean, 15) == pytest.approx(3 * predicted_seconds(lean, 5))
    assert predicted_seconds(lean, 15, 27_500) == pytest.approx(predicted_seconds(lean, 15) / 2)
    wide_maps = dict(family.reference[0], stem_ratio=1.0, convs1=3)  # more work at 28x28
    assert predicted_seconds(summarize(family.candidate(wide_maps, 15).spec), 15) > predicted_seconds(lean, 15)


def test_the_cost_cap_rises_from_the_family_median_to_nothing_over_the_ramp():
    costs = (60.0, 120.0, 180.0, 240.0, 300.0)
    cap = CostCap(1000, costs)
    assert cap.cap(0) == 180.0 and cap.cap(500) == 240.0 and cap.cap(999) == 300.0
    assert cap.cap(1000) is None and CostCap(0, costs).cap(0) is None and CostCap(1000, ()).cap(0) is None
    assert cap.defers(200.0, 0, 0).startswith("predicted 3.3 min at the top rung > 3.0 min")
    assert cap.defers(180.0, 0, 0) == ""
    assert cap.defers(200.0, 0, cost.MAX_DEFERRED) == ""  # a streak of deferrals ends


def test_the_family_costs_are_drawn_within_the_budget_and_the_same_every_time():
    family = load_search("general").with_budget(max_params=6999)
    costs = cost.family_costs(family, 15, 55_000, draws=12)
    assert len(costs) == 12 and costs == cost.family_costs(family, 15, 55_000, draws=12)
    assert max(costs) > 1.5 * min(costs)  # a family with cheap and slow corners


@pytest.mark.integration
def test_deferred_samples_never_train_nor_count_as_failures(tmp_path, monkeypatch):
    monkeypatch.setattr(cost, "START_QUANTILE", 0.0)  # the cap is the family's cheapest: most samples wait
    out = tmp_path / "s"
    result = runner.invoke(app, ["search", "--trials", "4", "--out", str(out), "--cost-ramp", "3600", *TINY])
    assert result.exit_code == 0, result.output
    trials = _study(out).trials
    deferred = [t for t in trials if t.user_attrs.get("status") == "deferred"]
    trained = [t for t in trials if t.user_attrs.get("status") == "complete"]
    assert deferred and len(trained) == 4
    cheapest = min(cost.family_costs(load_search("general").with_budget(max_params=3000), 1, 300))
    for t in deferred:
        assert t.state == optuna.trial.TrialState.FAIL  # the sampler ignores it
        assert t.user_attrs["seconds"] == 0.0 and "val_acc" not in t.user_attrs
        assert t.user_attrs["predicted_s"] > cheapest and "cost-aware start" in t.user_attrs["reason"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["deferred"] == len(deferred) and summary["failed"] == 0
    trial_lines = [line for line in result.output.splitlines() if line.lstrip().startswith("[")]
    assert len(trial_lines) == 4 and not any("deferred" in line for line in trial_lines)  # trained ones only


def test_sobol_draws_the_start_up_and_tpe_the_rest_and_a_prior_skips_the_start_up():
    study = optuna.create_study(direction="maximize")
    sampler = SobolThenTPE(seed=0, startup=2)
    assert sampler._pick(study) is sampler.sobol
    for i in range(2):
        trial = optuna.trial.create_trial(params={"x": 0.1 * i}, value=0.5,
                                          distributions={"x": optuna.distributions.FloatDistribution(0, 1)},
                                          user_attrs={"status": "complete"})
        study.add_trial(trial)
    assert sampler._pick(study) is sampler.tpe
    observed = optuna.create_study(direction="maximize")
    observed.add_trial(optuna.trial.create_trial(params={"x": 0.5}, value=0.5, user_attrs={"status": "prior"},
                                                 distributions={"x": optuna.distributions.FloatDistribution(0, 1)}))
    assert sampler._pick(observed) is sampler.sobol  # a prior's observation is not a start-up trial
    assert SobolThenTPE(seed=0, startup=0)._pick(observed).__class__ is optuna.samplers.TPESampler


def test_the_shipped_priors_are_distilled_from_the_committed_studies():
    for epochs in prior.SOURCES:
        shipped = json.loads(prior.prior_file(epochs).read_text())
        assert shipped == json.loads(json.dumps(prior.distil(ROOT, epochs)))  # `budgetnet prior` regenerates it
        assert len(shipped["observations"]) >= 40
        assert all(ob["epochs"] == epochs for ob in shipped["observations"])  # one fidelity: rung 0
        points = [(json.dumps(ob["values"], sort_keys=True), ob["params"]) for ob in shipped["observations"]]
        assert len(set(points)) == len(points)  # two studies' shared first trials counted once


def test_a_search_with_the_prior_reads_rung_0_at_its_epochs(tmp_path):
    from budgetnet.search.options import SearchOptions
    from budgetnet.search.study import rung_list
    family = load_search("general")
    assert rung_list(family, SearchOptions(out=tmp_path)) == [1, 15]  # the default (bench rungs)
    assert rung_list(family, SearchOptions(out=tmp_path, prior=True)) == [1, 15]  # the 1-epoch prior
    assert rung_list(family, SearchOptions(out=tmp_path, prior=True, rungs=(3, 7, 15))) == [3, 7, 15]
    assert rung_list(family, SearchOptions(out=tmp_path, prior=True, epochs=30)) == [1, 30]  # nearest to 2
    assert prior.prior_rungs([5, 75]) == [3, 75] and prior.prior_rungs([1]) == [1]
    result = runner.invoke(app, ["search", "--prior", "--rungs", "2,15", "--trials", "1", "--out", str(tmp_path / "x"),
                                 "--max-params", "3000", "--no-warm-start"])
    assert result.exit_code == 2 and "first rung must be 1 or 3 epochs" in result.output
    assert not (tmp_path / "x").exists()
    quartile = runner.invoke(app, ["search", "--prior", "--pruner", "quartile", "--trials", "1", "--out",
                                   str(tmp_path / "q"), "--max-params", "3000", "--no-warm-start"])
    assert quartile.exit_code == 2 and "rungs are 15" in quartile.output  # one 15-epoch rung: no prior read so
    assert not (tmp_path / "q").exists()


@pytest.mark.integration
def test_a_search_with_the_prior_starts_from_it_and_shows_none_of_it(tmp_path):
    out = tmp_path / "p"
    result = runner.invoke(app, ["search", "--trials", "2", "--prior", "--out", str(out), *TINY])
    assert result.exit_code == 0, result.output
    study = _study(out)
    observed = [t for t in study.trials if t.user_attrs.get("status") == "prior"]
    assert len(observed) == len(json.loads(prior.prior_file(1).read_text())["observations"])  # rung 0: 1 epoch
    assert {t.user_attrs["epochs"] for t in observed} == {1}
    assert len(records(study)) == 2  # the trials the search ran
    board = (out / "leaderboard.csv").read_text()
    assert "prior" not in board and "search4k" not in board
    assert json.loads((out / "summary.json").read_text())["trials"] == 2


def test_the_prior_is_refused_where_it_was_not_measured(tmp_path):
    result = runner.invoke(app, ["search", "lean7k", "--prior", "--trials", "1", "--out", str(tmp_path / "x"), *TINY[2:]])
    assert result.exit_code == 2 and "--prior" in result.output and "lean7k" in result.output
    assert not (tmp_path / "x").exists()
    # --max-ram adds the stem's stride to the space: no observation sets it, so none would be added
    ram = runner.invoke(app, ["search", "--prior", "--max-ram", "2500", "--trials", "1", "--out", str(tmp_path / "r"),
                              *TINY[2:]])
    assert ram.exit_code == 2 and "stem_stride" in ram.output and "--max-ram" in ram.output
    assert not (tmp_path / "r").exists()


def test_the_prior_is_off_by_default_where_its_observations_do_not_cover_the_space(tmp_path):
    from budgetnet.search.study import plan_search
    from budgetnet.data.datasets import describe
    options = {"out": tmp_path / "s"}
    _, plain = plan_search(None, describe(), max_params=3000, options=options)
    _, ram = plan_search(None, describe(), max_params=3000, max_ram=2500, options=options)
    assert plain.prior and not ram.prior


@pytest.mark.integration
def test_every_trial_line_shows_its_validation_interval_and_a_search_without_a_feasible_trial_says_how_close(tmp_path):
    result = runner.invoke(app, ["search", "--trials", "2", "--out", str(tmp_path / "v"), *TINY])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if " trial " in line and "complete" in line]
    assert lines and all("val " in line and "-" in line.split("val ")[1].split(")")[0] for line in lines)
    assert "none yet (closest: trial " in result.output and "95% interval" in result.output


@pytest.mark.integration
def test_a_resumed_search_shows_the_study_best_from_its_first_line(tmp_path):
    out = tmp_path / "r"
    first = runner.invoke(app, ["search", "--trials", "2", "--out", str(out), *TINY])
    assert first.exit_code == 0, first.output
    best = max(rec.val_acc for _, rec in records(_study(out)) if rec.complete)
    again = runner.invoke(app, ["search", "--trials", "3", "--out", str(out), *TINY])
    assert again.exit_code == 0, again.output
    line = next(x for x in again.output.splitlines() if " trial " in x and "complete" in x)
    shown = float(line.split("best ")[1].rstrip("%"))
    assert shown >= round(100 * best, 2)


# -------------------------------------------------------------------------- lever 3: low rungs by rank
def test_the_fidelity_references_are_the_committed_15_epoch_candidates_once_each():
    from budgetnet.bench.rungs import references
    refs = references(ROOT)
    assert len(refs) >= 20 and {r.budget for r in refs} == {3999, 6999}
    assert len({(r.budget, r.seed, r.arch) for r in refs}) == len(refs)  # a rerun study's twins counted once
    assert all(0.9 < r.top_val < 1 for r in refs) and sum(r.rung0_val is not None for r in refs) >= 20


def test_fidelity_is_scored_by_rank_within_each_budget():
    from budgetnet.bench.rungs import Reference, analyse
    top = [0.990, 0.991, 0.992, 0.993, 0.994, 0.995]
    refs = [Reference(f"k{i}", "s", i, b, {}, i, "", v, None) for b in (3999, 6999) for i, v in enumerate(top)]
    rows = [{"key": f"k{i}", "budget": b, "setting": "1ep", "val_acc": low, "seconds": 1.0, "samples": 55_000,
             "measured_here": True}
            for b, lows in ((3999, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), (6999, [0.6, 0.5, 0.4, 0.3, 0.2, 0.1]))
            for i, low in enumerate(lows)]
    r = analyse(refs, rows, boot=50)["1ep"]
    assert r["by_budget"]["3999"]["spearman"] == 1.0 and r["by_budget"]["3999"]["top_third_kept"] == 1.0
    assert r["by_budget"]["6999"]["spearman"] == -1.0 and r["by_budget"]["6999"]["top_third_kept"] == 0.0
    assert r["samples"] == 55_000 and r["median_seconds_here"] == 1.0 and r["seconds_vs_1ep"] == 1.0


def test_fidelity_sets_seconds_against_each_other_only_on_one_machine():
    from budgetnet.bench.rungs import _seconds_vs, this_machine
    run = {"budget": 6999, "measured_here": True}
    rows = [{**run, "key": "a", "setting": "1ep", "seconds": 40.0},  # a session before machines were recorded
            {**run, "key": "a", "setting": "7ep", "seconds": 400.0, "machine": "Xeon, AVX512, 2 cores"},
            {**run, "key": "b", "setting": "1ep", "seconds": 50.0, "machine": "EPYC, AVX2, 2 cores"},
            {**run, "key": "b", "setting": "7ep", "seconds": 300.0, "machine": "EPYC, AVX2, 2 cores"}]
    assert _seconds_vs(rows, "7ep", "1ep") == 6.0  # b's pair only: a's 10x is two machines' seconds
    assert _seconds_vs(rows[:2], "7ep", "1ep") is None
    assert this_machine().endswith(" cores")


def test_a_fidelity_setting_trains_each_candidate_once_and_resumes(tmp_path, monkeypatch):
    from budgetnet.bench import rungs as fidelity
    monkeypatch.setitem(fidelity.SETTINGS, "tiny", (1, 0.005))  # 275 images, in this process (one job)
    refs = [r for r in fidelity.references(ROOT) if r.budget == 3999][:2]
    rows = fidelity.measure(refs, ["tiny", "3ep"], tmp_path)
    tiny = [r for r in rows if r["setting"] == "tiny"]
    assert len(tiny) == 2 and all(r["measured_here"] and r["samples"] == 275 for r in tiny)
    assert [r["val_acc"] for r in rows if r["setting"] == "3ep"] == [r.rung0_val for r in refs]  # recorded, not trained
    trained = []
    assert fidelity.measure(refs, ["tiny"], tmp_path, on_run=lambda row, n: trained.append(row)) == tiny
    assert trained == []  # kept in OUT/runs: nothing trains again


def test_bench_rungs_refuses_an_unknown_setting():
    r = runner.invoke(app, ["bench", "rungs", "--setting", "5ep"])
    assert r.exit_code == 2 and "unknown 5ep" in r.output


def test_the_committed_fidelity_figures_are_what_bench_rungs_computes_from_its_runs():
    from budgetnet.bench import rungs as fidelity
    committed = json.loads((ROOT / "reports/fidelity/rungs.json").read_text())
    refs = fidelity.references(ROOT)
    trained = []
    rows = fidelity.measure(refs, list(committed["settings"]), ROOT / "reports/fidelity",
                            on_run=lambda row, n: trained.append(row))
    assert trained == [] and committed["candidates"] == len(refs)  # every run is committed
    assert json.loads(json.dumps(fidelity.analyse(refs, rows))) == committed["settings"]


# -------------------------------------------------------------------------- a resumed study keeps its rungs
def _old_default_study(out: Path, search, startup="random", cost_ramp=0.0) -> None:
    """A study as the default created it before rung 0 became one epoch: rungs [3, 15] recorded."""
    from budgetnet.search.record import StudyRecord
    out.mkdir(parents=True)
    study = optuna.create_study(study_name="general-3000", storage=f"sqlite:///{out / 'study.db'}")
    StudyRecord(search.name, {"max_params": 3000}, search.min_accuracy, [3, 15], False, False, startup,
                cost_ramp).save(study)


def test_a_resumed_study_keeps_the_rungs_it_recorded(tmp_path):
    from budgetnet.errors import UsageError
    from budgetnet.search.options import SearchOptions
    from budgetnet.search.study import keep_study_settings, rung_list

    search = load_search("general").with_budget(max_params=3000)
    fresh = SearchOptions(out=tmp_path / "new")
    assert keep_study_settings(search, fresh) is fresh and not (tmp_path / "new").exists()  # nothing created
    assert rung_list(search, fresh) == [1, 15]
    _old_default_study(tmp_path / "old", search)
    kept = keep_study_settings(search, SearchOptions(out=tmp_path / "old"))
    assert rung_list(search, kept) == [3, 15]
    assert keep_study_settings(search, SearchOptions(out=tmp_path / "old", rungs=(3, 15))).rungs == (3, 15)
    for other in ({"rungs": (1, 15)}, {"epochs": 5}):
        with pytest.raises(UsageError, match=r"ran rungs \[3, 15\]: resume it without --"):
            keep_study_settings(search, SearchOptions(out=tmp_path / "old", **other))


def test_a_resumed_study_keeps_the_sampler_settings_it_recorded_unless_told_otherwise(tmp_path):
    from budgetnet.errors import UsageError
    from budgetnet.search.options import SearchOptions, Startup
    from budgetnet.search.study import keep_study_settings

    search = load_search("general").with_budget(max_params=3000)
    _old_default_study(tmp_path / "old", search, startup="sobol", cost_ramp=1800.0)
    today = SearchOptions(out=tmp_path / "old")  # today's defaults: random start-up, no ramp
    kept = keep_study_settings(search, today, given=set())
    assert (kept.startup, kept.cost_ramp, kept.prior) == (Startup.sobol, 1800.0, False)
    assert keep_study_settings(search, replace(today, startup=Startup.sobol), given={"startup"}).cost_ramp == 1800.0
    with pytest.raises(UsageError, match=r"ran --startup sobol: resume it without --startup random \(or with "
                                         r"--startup sobol\)"):
        keep_study_settings(search, today, given={"startup"})
    with pytest.raises(UsageError, match=r"ran --cost-ramp 1800: resume it without --cost-ramp 0"):
        keep_study_settings(search, replace(today, startup=Startup.sobol))  # an API caller's options are all given
    with pytest.raises(UsageError, match=r"ran --no-prior: resume it without --prior"):
        keep_study_settings(search, replace(today, prior=True, startup=Startup.sobol, cost_ramp=1800.0))


def test_resuming_with_other_rungs_is_refused_before_anything_runs(tmp_path):
    search = load_search("general").with_budget(max_params=3000)
    _old_default_study(tmp_path / "old", search)
    whole_epochs = [a for i, a in enumerate(TINY) if "--epochs" not in TINY[max(0, i - 1):i + 1]]
    result = runner.invoke(app, ["search", "--rungs", "1,15", "--trials", "1", "--out", str(tmp_path / "old"),
                                 *whole_epochs])
    assert result.exit_code == 2 and "ran rungs [3, 15]" in result.output
    result = runner.invoke(app, ["search", "--startup", "sobol", "--trials", "1", "--out", str(tmp_path / "old"),
                                 *whole_epochs])
    assert result.exit_code == 2 and "ran --startup random: resume it without --startup sobol" in result.output
    assert _study(tmp_path / "old").trials == [] and not (tmp_path / "old" / "leaderboard.csv").exists()


# -------------------------------------------------------------------------- committed search benchmarks
@pytest.mark.parametrize("bench", sorted(p.name for p in (ROOT / "reports/bench").glob("search_*.json")))
def test_a_committed_search_benchmark_is_what_its_studies_show(bench):
    from budgetnet.bench.search import study_in, measure_setup
    for row in json.loads((ROOT / "reports/bench" / bench).read_text()):
        out = Path(row["study"]).parent
        study = study_in(ROOT / out)
        assert study is not None, f"{bench}: {out} holds no study"
        assert measure_setup(row["search"], study, out, row["budget"], row["timeout_s"]) == row


def test_the_summary_sets_the_epochs_run_against_the_top_rung_for_every_trained_trial():
    from budgetnet.search.options import SearchOptions
    from budgetnet.search.report import summarize_study
    from budgetnet.bench.search import study_in
    study = study_in(ROOT / "reports/search_power/5k/default")
    s = summarize_study(study, load_search("general").with_budget(max_params=4999), SearchOptions(out=ROOT), 0.0)
    assert s.rungs == [1, 15]
    trained = [rec for _, rec in records(study) if rec.trained]
    one_epoch = sum(rec.epochs_run == 1 for rec in trained)
    assert one_epoch > 0 and s.epochs_full == 15 * s.trained == 15 * len(trained)
    assert s.epochs_run == sum(rec.epochs_run for rec in trained) < s.epochs_full


def test_measuring_a_benchmark_that_ran_elsewhere_keeps_the_command_that_ran_it(tmp_path):
    import shutil
    from budgetnet.bench.search import bench_setup
    (tmp_path / "default").mkdir()
    shutil.copy(ROOT / "reports/search_power/5k/default/study.db", tmp_path / "default" / "study.db")
    (tmp_path / "default" / "command.txt").write_text("budgetnet bench search --setup default (the run)\n")
    row = bench_setup("default", tmp_path, 4999, 3600, warm_start=False)
    assert row["ran_now"] is False and row["first_feasible_s"] is not None
    assert (tmp_path / "default" / "command.txt").read_text() == "budgetnet bench search --setup default (the run)\n"
    assert (tmp_path / "default" / "leaderboard.md").is_file() and (tmp_path / "default" / "bench.json").is_file()
