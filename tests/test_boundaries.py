"""The core never imports streamlit (only resnet_viz/ui does) nor plotly (only figures and ui)."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "resnet_viz"


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_the_ui_package_imports_streamlit():
    files = [p for p in PACKAGE.rglob("*.py") if "ui" not in p.relative_to(PACKAGE).parts]
    assert len(files) >= 10
    offenders = [str(p) for p in files if "streamlit" in imported_roots(p)]
    assert offenders == []
    assert "streamlit" in imported_roots(PACKAGE / "ui" / "__init__.py")


def test_plotly_stays_in_figures_and_ui():
    allowed = {PACKAGE / "figures.py"}
    offenders = [str(p) for p in PACKAGE.rglob("*.py")
                 if "ui" not in p.relative_to(PACKAGE).parts and p not in allowed and "plotly" in imported_roots(p)]
    assert offenders == []


def test_importing_the_core_loads_neither_streamlit_nor_plotly():
    modules = [p.relative_to(PACKAGE.parent).with_suffix("").as_posix().replace("/", ".")
               for p in PACKAGE.rglob("*.py")
               if "ui" not in p.relative_to(PACKAGE).parts and p.name not in ("__main__.py", "figures.py")]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('streamlit', 'plotly')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent)
    assert out.stdout.strip() == "[]"


def test_weights_are_never_loaded_through_pickle():
    """Stored weights are safetensors; nothing in the library calls torch.load or pickle."""
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        assert "torch.load(" not in text and "import pickle" not in text, path
        assert "pickle" not in imported_roots(path), path
