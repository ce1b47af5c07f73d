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
GEM5_ONLY = ["gem5_configs/topologies/garnet_mesh3d.py", *sorted(
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
    scripts = ("run_ailfm.py", "calibrate_nuca.py")  # run by gem5.opt; they import gem5 inside main()
    pure = [p for p in (REPO / "gem5_configs").rglob("*.py") if str(p.relative_to(REPO)) not in GEM5_ONLY
            and p.name not in scripts]
    for path in pure:
        modules = {n.module for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ImportFrom)}
        assert not any(m and (m.split(".")[0] in ("m5", "gem5") or ".components." in m or m.endswith("garnet_mesh3d"))
                       for m in modules), f"{path} imports gem5-only code"
