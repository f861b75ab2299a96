"""Re-run the examples of docs/cli.md and the README and paste their real output in.

tests/docs/test_doc_rot.py fails when a documented example no longer prints what the page
shows (a cost-model change, a re-measured RTL characterisation table, new synthesis
tools, ...).  After checking that the change is intended, refresh the pages with::

    .venv/bin/python tests/docs/refresh_cli_examples.py

It runs every example exactly as the test does (cli_examples.py: document order, one
scratch folder per page, the same masks) and replaces the output lines of each example
that the test would reject: every ``$ specaccel ...`` example of docs/cli.md, the files
the page shows (``char.csv``), and the README's example report (``make run``).  A cut
output (``...``) keeps its cut; a progress-bar line the page shows stays.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _lib():
    spec = importlib.util.spec_from_file_location("docs_cli_examples",
                                                  HERE / "cli_examples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def refresh(page: Path) -> int:
    """Rewrite `page` in place; return how many examples changed."""
    lib = _lib()
    lines = page.read_text().splitlines()
    replacements: list[tuple[int, int, list[str]]] = []
    old_cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="specaccel-docs-") as tmp:
        folder = Path(tmp)
        lib.scratch(folder)
        os.chdir(folder)
        os.environ["COLUMNS"] = "100"
        try:
            for ex in lib.examples(page):
                if ex.command is not None:
                    code, got = lib.run(ex.command)
                    if code != lib.expected_exit(ex):
                        print(f"{page.name}:{ex.line_no}: '{ex.command}' exits {code}, not "
                              f"{lib.expected_exit(ex)}: fix the example or the code",
                              file=sys.stderr)
                else:
                    got = (folder / ex.file).read_text().splitlines()
                if not lib.agrees(ex, got):
                    print(f"refreshed {page.name}:{ex.line_no}: {ex.command or ex.file}",
                          file=sys.stderr)
                    replacements.append((ex.start, ex.end, lib.refreshed(ex, got)))
        finally:
            os.chdir(old_cwd)
    for start, end, new in reversed(replacements):
        lines[start:end] = new
    page.write_text("\n".join(lines) + "\n")
    return len(replacements)


if __name__ == "__main__":
    lib = _lib()
    for page in (lib.CLI_DOC, lib.README):
        print(f"{refresh(page)} example(s) refreshed in {page.relative_to(lib.REPO)}")
