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
    modules = [p.relative_to(PACKAGE.parent).with_suffix("").as_posix().replace("/", ".").removesuffix(".__init__")
               for p in PACKAGE.rglob("*.py")
               if "ui" not in p.relative_to(PACKAGE).parts and p.name not in ("__main__.py", "figures.py")]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('streamlit', 'plotly')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent)
    assert out.stdout.strip() == "[]"


def test_weights_are_never_loaded_through_pickle():
    """Stored weights are safetensors; nothing in the library unpickles. The one torch.load reads the published
    checkpoints' format (resnet_viz/pretrained.py), and only with weights_only=True (tensors, no code)."""
    import re

    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        loads = re.findall(r"torch\.load\([^)]*\)", text)
        if path.name == "pretrained.py":
            assert loads and all("weights_only=True" in call for call in loads), loads
        else:
            assert not loads, path
        assert "import pickle" not in text, path
        assert "pickle" not in imported_roots(path), path


def _module_imports(path: Path) -> set[str]:
    """resnet_viz modules a file imports, at any level (function-level imports count: a cycle hidden
    in a function is still a cycle)."""
    name = path.relative_to(PACKAGE.parent).with_suffix("").as_posix().replace("/", ".")
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    package = package.removesuffix(".__init__")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("resnet_viz"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if not module.startswith("resnet_viz"):
                continue
            if node.module is None:  # `from . import x`: module x (loading the package first is no cycle)
                found.update(f"{module}.{a.name}" for a in node.names)
            else:
                found.add(module)
    return found


def test_the_library_has_no_import_cycle():
    files = {p.relative_to(PACKAGE.parent).with_suffix("").as_posix().replace("/", ".").removesuffix(".__init__"): p
             for p in PACKAGE.rglob("*.py")}
    graph = {m: {i for i in _module_imports(p) if i in files and i != m} for m, p in files.items()}
    cycles = []

    def visit(node, stack):
        for nxt in graph[node]:
            if nxt in stack:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in done:
                visit(nxt, stack + [nxt])
        done.add(node)

    done: set[str] = set()
    for m in graph:
        if m not in done:
            visit(m, [m])
    assert cycles == []
    assert "resnet_viz.jobs" not in {i for m, deps in graph.items() if m.startswith("resnet_viz.experiments") for i in deps}


def test_pages_are_thin_and_torch_free():
    pages = sorted((PACKAGE.parent / "pages").glob("*.py")) + [PACKAGE.parent / "app.py"]
    assert len(pages) >= 6
    for page in pages:
        assert len(page.read_text().splitlines()) <= 60, page
        roots = imported_roots(page)
        assert "torch" not in roots and "numpy" not in roots, page


def test_the_home_page_lists_every_page_from_the_page_itself():
    from resnet_viz.ui import available_pages

    pages = available_pages()
    assert [p[0] for p in pages] == [f"pages/{p.name}" for p in sorted((PACKAGE.parent / "pages").glob("*.py"))]
    assert all(title and icon.startswith(":material/") and blurb for _, title, icon, blurb in pages)


def test_pyproject_declares_the_requirements_and_the_console_command():
    import tomllib

    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["project"]
    requirements = [line.split("#")[0].strip() for line in (PACKAGE.parent / "requirements.txt").read_text().splitlines()]
    assert sorted(project["dependencies"]) == sorted(r for r in requirements if r)
    assert project["scripts"]["resnet-viz"] == "resnet_viz.cli:main"
