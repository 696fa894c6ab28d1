"""What may import what (README's code map). The remote code travels with every saved model and must build
without this package: it imports nothing from training, data or the commands, and only its own siblings."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "a3lign"
REMOTE_CODE = {
    "configuration_a3lign",
    "modeling_a3lign",
    "processing_a3lign",
    "decoding_a3lign",
    "faces_a3lign",
    "pipeline_a3lign",
}
# part of the package -> the parts it may import from ("init": a3lign/__init__.py, the package's public names)
MAY_IMPORT = {
    "remote": {"remote"},
    "init": {"remote"},
    "data": {"remote", "data"},
    "train": {"remote", "init", "data", "train"},
    "predict": {"remote", "init", "data", "predict"},
    "app": {"remote", "init", "predict", "app"},
    "cli": {"remote", "init", "data", "train", "predict", "app", "cli"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "init"
    if parts[1] in REMOTE_CODE:
        return "remote"
    return "cli" if parts[1] == "__main__" else parts[1]


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, function bodies included, relative imports made absolute."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            found.add(".".join([*base, *([node.module] if node.module else [])]))
    return found


FILES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(PACKAGE)) for p in FILES])
def test_each_part_imports_only_what_it_may(path):
    own = part(module_name(path))
    for module in imported_modules(path):
        assert module != "train_bap", f"{path.name} imports the root script train_bap.py"
        if module == "a3lign" or module.startswith("a3lign."):
            assert part(module) in MAY_IMPORT[own], f"{module_name(path)} ({own}) imports {module} ({part(module)})"


def test_remote_code_imports_only_its_siblings_relatively():
    siblings = {}
    for name in REMOTE_CODE:
        modules = imported_modules(PACKAGE / f"{name}.py")
        assert not {m for m in modules if m.split(".")[0] == "a3lign" and m != "a3lign"} - {
            f"a3lign.{n}" for n in REMOTE_CODE
        }
        assert "a3lign" not in modules, f"{name} imports the package's `__init__`"
        siblings[name] = {m.split(".")[1] for m in modules if m.startswith("a3lign.")}
        # A saved folder has no `a3lign` package: siblings only through relative imports.
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        absolute = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        absolute |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and not node.level}
        assert not {m for m in absolute if m.split(".")[0] == "a3lign"}, name
    # The model builds from config + modeling alone: no processor, no decoding (PyAV).
    assert siblings == {
        "configuration_a3lign": set(),
        "modeling_a3lign": {"configuration_a3lign"},
        "processing_a3lign": {"configuration_a3lign", "decoding_a3lign", "faces_a3lign"},
        "decoding_a3lign": set(),
        "faces_a3lign": set(),
        "pipeline_a3lign": {"configuration_a3lign", "processing_a3lign"},
    }
