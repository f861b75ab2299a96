"""The card's folders install as subpackages of `specaccel`, and nothing else does."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _config():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_folder_is_listed_and_every_listed_package_exists():
    cfg = _config()
    mapping = cfg["package-dir"]
    listed = set(cfg["packages"])
    found = set()
    for top, folder in mapping.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                continue
            found.add(".".join((top, *rel.parts)) if rel.parts else top)
    assert found == listed


def test_no_generic_top_level_module_is_installed():
    cfg = _config()
    assert all(p == "specaccel" or p.startswith("specaccel.") for p in cfg["packages"])


def test_subpackages_import_from_the_card_folders():
    import specaccel.models.golden as golden
    import specaccel.schema.trace as trace

    assert Path(golden.__file__).parent == ROOT / "models" / "golden"
    assert Path(trace.__file__).parent == ROOT / "schema"
