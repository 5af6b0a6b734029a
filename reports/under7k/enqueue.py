"""Two hand-designed starting points added to the under7k study (12:30, session 1), after the
references showed the OneCycle recipe ahead: more width after the pool, where it is cheap.
They are trials like any other: selected, or not, on validation accuracy."""
import optuna

from budgetnet.search.storage import make_storage

study = optuna.load_study(study_name="under7k-6999", storage=make_storage("sqlite:///study.db"))
common = dict(tnorm="bn", nesterov=True, sched="onecycle", step_size=4, gamma=0.35, epochs=15, translate=0.05)
study.enqueue_trial(dict(common, c1=8, c2=12, c3=14, t=10, c4=16, c5=18, p=0.03, lr=0.1, batch_size=128, rotate=7.0))
study.enqueue_trial(dict(common, c1=8, c2=14, c3=16, t=8, c4=16, c5=16, p=0.02, lr=0.15, batch_size=64, rotate=10.0))
