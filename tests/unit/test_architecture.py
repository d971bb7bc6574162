"""The boundaries STYLE.md promises, checked on the source: train/ and serve/ never import each other,
and container/ stays cheap to import (no web server, ML library or SageMaker toolkit at module level)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"flask", "gunicorn", "werkzeug", "fasttext", "numpy", "sagemaker_training", "boto3", "spacy", "gensim"}
# The entity KB and ranker are numeric by nature (memory-mapped arrays); only train/entities.py and
# serve/entities.py import them, never the dispatcher (checked below by importing it).
NUMERIC_CORE = {"entity_kb.py": {"numpy"}, "tagme.py": {"numpy"}}


def imports(path: Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package, forbidden", [("train", "serve"), ("serve", "train")])
def test_train_and_serve_never_import_each_other(package, forbidden):
    offenders = [p.name for p in (ROOT / package).rglob("*.py") if forbidden in imports(p, top_level_only=False)]
    assert offenders == []


def test_container_core_imports_nothing_heavy_at_module_level():
    offenders = {p.name: sorted(imports(p, top_level_only=True) & HEAVY - NUMERIC_CORE.get(p.name, set()))
                 for p in (ROOT / "container").rglob("*.py")}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_dispatcher_loads_no_heavy_module():
    import subprocess
    import sys

    code = ("import sys, container.__main__ as m; m.help_text(); "
            f"print(sorted(n for n in sys.modules if n.split('.')[0] in {sorted(HEAVY)!r}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_no_shell_or_eval_anywhere_in_the_product():
    """Request and hyperparameter data never reach a shell or an evaluator."""
    offenders = []
    for path in [*ROOT.glob("container/**/*.py"), *ROOT.glob("train/**/*.py"), *ROOT.glob("serve/**/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name in {"eval", "exec", "system", "popen"}:
                    offenders.append(f"{path.name}:{node.lineno} {name}()")
                for keyword in node.keywords:
                    if keyword.arg == "shell" and getattr(keyword.value, "value", False) is True:
                        offenders.append(f"{path.name}:{node.lineno} shell=True")
    assert offenders == []
