"""The package's layout holds its architecture: imports run one way, from the command line down
to the ground, never up and never sideways between folders on one floor."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "budgetnet"
# lower floors know nothing of higher ones
FLOORS = {"errors": 0, "figures": 0, "versions": 0,
          "atomic": 0.5,  # atomic writes report a machine's faults as errors
          "data": 1, "spec": 1,
          "model": 2,
          "training": 3,
          "compliance": 4, "report": 4,
          "search": 5, "export": 5,
          "bench": 5.5,  # benchmarks measure every job below them
          "cli": 6}


def _concern(module: str) -> str | None:
    """budgetnet.model.layers.conv -> model; budgetnet.errors -> errors; the package root -> None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every budgetnet module a file imports, at the top or inside a function."""
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    here = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("budgetnet")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this file's package
                pkg = here.split(".") if rel.name == "__init__" else here.split(".")[:-1]
                base = ".".join(pkg[:len(pkg) - node.level + 1] + ([base] if base else []))
            if base == "budgetnet":  # from budgetnet import atomic, errors
                found += [(node.lineno, f"budgetnet.{a.name}") for a in node.names]
            elif base.startswith("budgetnet."):
                found.append((node.lineno, base))
    return found


def test_every_module_is_in_a_known_folder():
    for path in PACKAGE.rglob("*.py"):
        concern = _concern(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        assert concern in FLOORS or concern in ("__init__", "__main__"), f"{path}: not in a known folder"


def test_imports_run_one_way():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        source = _concern(module)
        if source in ("__init__", "__main__"):  # the public API and `python -m budgetnet` sit on top
            continue
        for line, target in _imports(path):
            to = _concern(target)
            if to is None or to == source:
                continue
            if FLOORS[to] >= FLOORS[source]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {source} (floor {FLOORS[source]}) "
                             f"imports {target} (floor {FLOORS[to]})")
    assert not wrong, "imports against the layout:\n" + "\n".join(wrong)


def test_the_direction_test_sees_lazy_and_package_imports():
    probe = PACKAGE / "spec" / "ops.py"
    found = {t for _, t in _imports(probe)}
    assert "budgetnet.spec.geometry" in found
    lazy = PACKAGE / "compliance" / "rules.py"
    assert "budgetnet.training.runs" in {t for _, t in _imports(lazy)}  # imported inside a function
