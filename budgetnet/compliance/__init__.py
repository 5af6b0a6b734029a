"""The compliance checker (`budgetnet check`): rules and verdicts, inputs, counting a class, CI formats and audit records."""
