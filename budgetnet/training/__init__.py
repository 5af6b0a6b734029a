"""Training and evaluation: the loop, augmentation, schedules, checkpoints, runs, scores, spreads, benchmarks."""
