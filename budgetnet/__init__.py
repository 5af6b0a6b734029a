"""budgetnet: find and prove small networks that hit an accuracy target inside a parameter budget."""
from budgetnet.model.compile import Network, Summary, build, count_params, summarize
from budgetnet.errors import BudgetnetError, CheckpointError, DataError, SpecError
from budgetnet.spec.schema import Spec, load_spec, zoo_names
from budgetnet.compliance.rules import check

__all__ = ["load_spec", "summarize", "build", "count_params", "check", "zoo_names", "Spec", "Summary", "Network",
           "BudgetnetError", "SpecError", "DataError", "CheckpointError"]
from budgetnet.versions import __version__
