"""Two hand-picked trials added to the lean7k study (session 2, after its first two references
scored val 99.18% / 99.16%): the recipe of the under7k study's best validation trial (trial 31:
batch 64, OneCycle to lr 0.27, rotation +-9.6 degrees, 1.3% shift, dropout 0.01) on the widest
lean widths, and on a variant with a wider first conv. Trials like any other: selected, or not,
on validation accuracy. Run from this directory."""
import optuna

from budgetnet.search.storage import make_storage

study = optuna.load_study(study_name="lean7k-6999", storage=make_storage("sqlite:///study.db"))
recipe = dict(p=0.01, lr=0.266, sched="onecycle", step_size=4, gamma=0.35, batch_size=64, rotate=9.6, translate=0.013)
if __name__ == "__main__" and len(__import__("sys").argv) == 1:
    study.enqueue_trial(dict(recipe, c1=8, c2=16, t=8, c3=14, c4=16, c5=16))   # 6,980
    study.enqueue_trial(dict(recipe, c1=10, c2=16, t=8, c3=12, c4=16, c5=16))  # 6,854

# Both were pruned at epoch 5 by the median rule, mid-way through their OneCycle peak (val 98.18% /
# 98.64%): the search was stopped, restarted with the quartile pruner (bottom 25%, after half the
# epochs) and the two trials enqueued again, here:
if __name__ == "__main__" and "--again" in __import__("sys").argv:
    study.enqueue_trial(dict(recipe, c1=8, c2=16, t=8, c3=14, c4=16, c5=16))
    study.enqueue_trial(dict(recipe, c1=10, c2=16, t=8, c3=12, c4=16, c5=16))

# Session 2, 15:05: the quartile pruner had Optuna's percentile inverted (PercentilePruner(25)
# keeps the top 25%, so it pruned three quarters); fixed to 75, the search restarted with 20
# trials, and trial 27 (val 99.18% at epoch 8 when pruned) enqueued again:
if __name__ == "__main__" and "--again2" in __import__("sys").argv:
    study.enqueue_trial(study.trials[27].params)

# 15:19: trials 28 and 29 failed (lost at epochs 11 and 9): a `git stash` replaced study.db
# under the running workers ("attempt to write a readonly database"); the study was restarted
# with TRIALS=18 TIMEOUT=1500 and the retries (30, 31) ran from the queue.
