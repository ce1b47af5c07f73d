"""The one-import-root layout: every folder with an __init__.py is an installed ailfm subpackage."""

from __future__ import annotations

import configparser
import importlib

from reference_data import REPO

ROOT_FOLDERS = ("ailfm", "thermal", "plugins", "traces", "mapping", "gem5_configs")


def _declared() -> tuple[dict[str, str], set[str]]:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    mapping = dict(
        (part.strip() for part in line.split("="))
        for line in cfg["options"]["package_dir"].strip().splitlines()
    )
    packages = {p.strip() for p in cfg["options"]["packages"].strip().splitlines()}
    return mapping, packages


def test_every_package_folder_is_declared():
    mapping, packages = _declared()
    folder_to_package = {folder: package for package, folder in mapping.items()}
    found = set()
    for root in ROOT_FOLDERS:
        for init in (REPO / root).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / root).parts
            found.add(".".join((folder_to_package[root], *rel)))
    assert found - packages == set(), "add these to [options] packages in setup.cfg"


def test_declared_packages_import_under_ailfm():
    _, packages = _declared()
    for name in sorted(packages):
        assert name.split(".")[0] == "ailfm"
        importlib.import_module(name)
