"""The layout holds: the import contracts of pyproject.toml ([tool.importlinter]) are kept,
so an import pointing up a layer (or a new circle in the queue core) fails the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """import-linter's own command, as CI would run it (no cache: it sees the tree as it is)."""
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_every_import_contract_is_kept():
    result = lint_imports()
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_layers(tmp_path):
    # A copy of the layer order on a package of two modules, the lower importing the upper.
    package = tmp_path / "layered"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "upper.py").write_text("from layered import lower\n")
    (package / "lower.py").write_text("import layered.upper\n")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = layered\n\n[importlinter:contract:1]\nname = layers\n"
        "type = layers\nlayers =\n    layered.upper\n    layered.lower\n")
    result = lint_imports(cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert "layered.lower is not allowed to import layered.upper" in result.stdout
