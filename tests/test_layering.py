"""The import rules between packages (docs/decisions.md, "Settings are owned where they
are used"), checked on the source with ``ast`` and once at run time in a fresh process.

The rules:
1. A module under ``rules/`` imports nothing from ``edgectl`` except ``edgectl.domain``,
   and nothing from ``drivers`` or ``sync``.
2. ``edgectl/config.py`` imports from ``drivers`` only settings modules
   (``drivers.<driver>.settings``).
3. Every module that importing ``edgectl.config`` loads (its module-level imports,
   transitively, ``if TYPE_CHECKING:`` blocks excluded), plus the imports inside the
   functions of the settings modules (their ``validate()``), is either the standard
   library or this project's own code: loading a config needs no third-party library.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("edgectl", "drivers", "rules", "sync")


def _path(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, top_level_only: bool) -> list[str]:
    """Absolute names imported in ``tree`` (``from a import b`` gives ``a`` and ``a.b``)."""
    out: list[str] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if top_level_only and isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            ):
                continue
            if isinstance(child, ast.Import):
                out.extend(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:  # relative: resolve against this module's package
                    base = module.rsplit(".", child.level)[0]
                    name = f"{base}.{child.module}" if child.module else base
                else:
                    name = child.module or ""
                out.append(name)
                out.extend(f"{name}.{alias.name}" for alias in child.names)
            visit(child)

    visit(tree)
    return out


def _parse(module: str) -> ast.Module:
    path = _path(module)
    assert path is not None, module
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _modules(package: str) -> list[str]:
    return sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / package).rglob("*.py")
    )


def _own(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def test_rules_import_only_the_domain_vocabulary_from_edgectl() -> None:
    bad = []
    for module in _modules("rules"):
        for name in _imports(_parse(module), module, top_level_only=False):
            top = name.split(".")[0]
            if top in ("drivers", "sync") or (
                top == "edgectl"
                and name not in ("edgectl", "edgectl.domain")
                and not name.startswith("edgectl.domain.")
            ):
                bad.append(f"{module} imports {name}")
    assert not bad, bad


def test_config_imports_only_settings_modules_of_drivers() -> None:
    names = _imports(_parse("edgectl.config"), "edgectl.config", top_level_only=False)
    drivers = {n for n in names if n.split(".")[0] == "drivers" and _path(n) is not None}
    bad = {n for n in drivers if n.count(".") != 2 or not n.endswith(".settings")}
    assert drivers, "expected edgectl.config to compose the drivers' settings"
    assert not bad, bad


def test_loading_a_config_reaches_only_the_stdlib_and_own_code() -> None:
    seen: set[str] = set()
    foreign: list[str] = []
    todo = ["edgectl.config"]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)) if _path(".".join(parts[:i])))
        settings = parts[-1] == "settings"
        for name in _imports(_parse(module), module, top_level_only=not settings):
            top = name.split(".")[0]
            if _own(name):
                if _path(name) is not None:
                    todo.append(name)
            elif top not in sys.stdlib_module_names and top != "__future__":
                foreign.append(f"{module} imports {name}")
    assert "drivers.modbus.settings" in seen and "rules.settings" in seen
    assert not foreign, foreign


def _heavy_loaded_by(code: str, heavy: tuple[str, ...]) -> list[str]:
    """The top-level packages in ``heavy`` that a fresh interpreter has loaded after ``code``."""
    probe = f"{code}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))))"
    out = subprocess.run(
        [sys.executable, "-c", "import json, sys\n" + probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    found: list[str] = json.loads(out.stdout)
    return found


def test_loading_the_example_config_imports_no_driver_library() -> None:
    code = f"import edgectl.config\nedgectl.config.load({str(ROOT / 'config.example.toml')!r})"
    heavy = ("pymodbus", "serial", "serial_asyncio_fast", "aiomqtt", "aiohttp", "cv2")
    assert _heavy_loaded_by(code, heavy) == []


CAMERA_LIBRARIES = ("cv2", "numpy", "zeep", "onvif", "onvif_parsers", "lxml", "httpx")


def test_the_cli_loads_no_device_library_until_a_command_needs_it() -> None:
    """Every ``edgectl`` call imports the command tree: it must stay light (issue 13's
    first hour is a dozen CLI calls; docs/bench-first-hour.md)."""
    heavy = (*CAMERA_LIBRARIES, "aiohttp", "pymodbus", "serial", "aiomqtt", "py2n", "wsdiscovery")
    assert _heavy_loaded_by("import edgectl.cli.main", heavy) == []


def test_the_daemon_loads_camera_libraries_only_for_a_site_with_cameras() -> None:
    """zeep and OpenCV are imported in a thread once the readers and gates run
    (``Daemon._start_cameras``): a swipe at start never waits for them."""
    assert _heavy_loaded_by("import edgectl.daemon", CAMERA_LIBRARIES) == []
