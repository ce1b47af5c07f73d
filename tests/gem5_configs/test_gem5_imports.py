"""The gem5-only modules name gem5 classes that exist in gem5 v24's source (a static check; no gem5 binary needed).

They cannot run without gem5.opt, so this guards at least against misspelt SimObject or stdlib names. It reads the
gem5 source tree in ``GEM5_SOURCE`` (default /opt/tools/gem5) and skips without one.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest
from reference_data import REPO

GEM5_SOURCE = Path(os.environ.get("GEM5_SOURCE", "/opt/tools/gem5"))
GEM5_ONLY = ["gem5_configs/topologies/garnet_mesh3d.py", "gem5_configs/examples/user_config.py", *sorted(
    str(p.relative_to(REPO)) for p in (REPO / "gem5_configs" / "components").glob("*.py") if p.name != "__init__.py")]


def _gem5_imports(path: Path) -> list[tuple[str, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("m5", "gem5"):
            found += [(node.module, alias.name) for alias in node.names]
    return found


@pytest.fixture(scope="module")
def simobject_classes() -> set[str]:
    if not (GEM5_SOURCE / "src" / "python" / "gem5").is_dir():
        pytest.skip(f"no gem5 source tree at {GEM5_SOURCE} (set GEM5_SOURCE)")
    names = set()
    for py in (GEM5_SOURCE / "src").rglob("*.py"):
        names.update(re.findall(r"^class (\w+)\(", py.read_text(errors="replace"), flags=re.MULTILINE))
    return names


@pytest.mark.parametrize("module", GEM5_ONLY)
def test_gem5_names_exist(module, simobject_classes):
    for package, name in _gem5_imports(REPO / module):
        if package == "m5.objects":
            assert name in simobject_classes, f"{module}: m5.objects has no {name}"
        elif package.startswith("gem5."):
            source = GEM5_SOURCE / "src" / "python" / Path(*package.split("."))
            text = (source.with_suffix(".py") if source.with_suffix(".py").exists() else source / "__init__.py"
                    ).read_text()
            assert re.search(rf"^(class|def) {name}\b|^{name}\s*=", text, flags=re.MULTILINE), \
                f"{module}: {package} defines no {name}"


def test_gem5_only_modules_are_never_imported_by_the_pure_ones():
    # run by gem5.opt; they import gem5 inside main()
    scripts = ("run_ailfm.py", "calibrate_nuca.py", "replay_traffic.py")
    pure = [p for p in (REPO / "gem5_configs").rglob("*.py") if str(p.relative_to(REPO)) not in GEM5_ONLY
            and p.name not in scripts]
    for path in pure:
        modules = {n.module for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ImportFrom)}
        assert not any(m and (m.split(".")[0] in ("m5", "gem5") or ".components." in m or m.endswith("garnet_mesh3d"))
                       for m in modules), f"{path} imports gem5-only code"


@pytest.fixture(scope="module")
def simobject_params(simobject_classes) -> dict[str, tuple[set[str], list[str]]]:
    """Per class defined in gem5's Python sources: its declared parameter names and its base classes."""
    classes: dict[str, tuple[set[str], list[str]]] = {}
    for py in (GEM5_SOURCE / "src").rglob("*.py"):
        try:
            tree = ast.parse(py.read_text(errors="replace"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            params = set()
            for item in node.body:
                if isinstance(item, ast.Assign) and isinstance(item.value, ast.Call):
                    head = item.value.func
                    while isinstance(head, ast.Attribute):
                        head = head.value
                    if isinstance(head, ast.Name) and head.id in ("Param", "VectorParam"):
                        params.update(t.id for t in item.targets if isinstance(t, ast.Name))
            bases = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
            known, known_bases = classes.get(node.name, (set(), []))
            classes[node.name] = (known | params, known_bases + bases)
    return classes


def _all_params(name: str, classes, seen=()) -> set[str]:
    params, bases = classes.get(name, (set(), []))
    found = set(params)
    for base in bases:
        if base not in seen:
            found |= _all_params(base, classes, seen + (name,))
    return found


@pytest.mark.parametrize("module", GEM5_ONLY)
def test_keyword_arguments_are_parameters_gem5_declares(module, simobject_params):
    """Every keyword given to an ``m5.objects`` SimObject constructor is a parameter of that class or a base."""
    classes = simobject_params
    path = REPO / module
    imported = {name for package, name in _gem5_imports(path) if package == "m5.objects"}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in imported:
            declared = _all_params(node.func.id, classes)
            if not declared:  # not a SimObject with parameters (AddrRange and other parameter values)
                continue
            for keyword in node.keywords:
                assert keyword.arg in declared, f"{module}: {node.func.id} has no parameter {keyword.arg!r}"
