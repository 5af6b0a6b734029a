"""Trial N of a study, its point filled by the general family into another parameter budget (as the warm
start fills references), written as NAME."""
import sys, optuna, yaml
from budgetnet.model.compile import summarize
from budgetnet.search.definition import load_search
from budgetnet.search.record import StudyRecord
db, number, budget, name, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
url = f"sqlite:///{db}"
study = optuna.load_study(study_name=optuna.get_all_study_names(url)[0], storage=url)
t = study.trials[number]
search = load_search("general").with_budget(max_params=budget)
raw = search.spec(t.params, 15).with_engine(StudyRecord.of(study).trial_engine).to_dict()
raw["name"] = name
raw["budget"] = search.budget.model_dump(exclude_defaults=True)
raw["notes"] = (f"the point of trial {t.number} of the search at 2,999 (reports/search3k, validation "
                f"{100 * t.user_attrs['val_acc']:.2f}% at {t.user_attrs['params']:,} params) filled to {budget:,} params")
open(out, "w").write(yaml.safe_dump(raw, sort_keys=False))
print(out, summarize(search.spec(t.params, 15)).params)
