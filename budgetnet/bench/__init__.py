"""The benchmarks behind `budgetnet bench`, one module a subject: the training step and the loop
(`step`, `training`), search power and the rungs' ranking (`search`, `rungs`), deployed latency
(`latency`). Every speed figure is a ratio against a baseline measured in the same run."""
