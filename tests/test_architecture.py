"""The structure docs/architecture.md describes, checked: package layers, no import cycles, small modules, and a
speak recipe that reads as its list of steps."""

from __future__ import annotations

import ast
import inspect
from collections import defaultdict
from pathlib import Path

from gateway.speak.recipe import SpeakRecipe

ROOT = Path(__file__).resolve().parent.parent
GATEWAY = ROOT / "gateway"

#: Each package may import only from packages in lower layers (or its own). Mirrors docs/architecture.md.
LAYERS = [
    {"gateway", "gateway.core"},
    {"gateway.settings", "gateway.observability"},
    {"gateway.text", "gateway.audio", "gateway.install", "gateway.media", "gateway.voices"},
    {"gateway.timing", "gateway.lipsync", "gateway.characters", "gateway.cache"},
    {"gateway.providers"},
    {"gateway.policy"},
    {"gateway.video"},
    {"gateway.speak"},
    {"gateway.service"},
    {"gateway.export"},
    {"gateway.api"},
    {"gateway.cli"},
]
LAYER = {package: rank for rank, packages in enumerate(LAYERS) for package in packages}
#: The only places that import inside a function: factories loading an implementation (and its native
#: library) on demand, and the installer's optional Kokoro step. None of them is there to dodge a cycle.
LAZY_IMPORTS_ALLOWED = {"gateway/providers/factory.py", "gateway/timing/aligners/__init__.py",
                        "gateway/install/__main__.py", "gateway/media/factory.py"}
MAX_MODULE_LINES = 450
RECIPE_STEPS = ["prepare", "cache hit", "chain", "timeline", "visemes", "finish", "video", "remember"]


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def gateway_imports() -> list[tuple[str, str, Path, int, bool]]:
    """(importing module, imported module, file, line, inside a function) for every gateway import."""
    found = []
    for path in GATEWAY.rglob("*.py"):
        tree = ast.parse(path.read_text())
        in_function = {id(n) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                       for n in ast.walk(fn)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "gateway":
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.split(".")[0] == "gateway"]
            else:
                continue
            found += [(module_name(path), t, path, node.lineno, id(node) in in_function) for t in targets]
    return found


def test_every_package_has_a_layer():
    packages = {package_of(module_name(p)) for p in GATEWAY.rglob("*.py")}
    assert packages <= set(LAYER), f"add to LAYERS (and docs/architecture.md): {sorted(packages - set(LAYER))}"


def test_packages_import_only_lower_layers():
    wrong = [f"{path.relative_to(ROOT)}:{line}: {package_of(src)} imports {dst}"
             for src, dst, path, line, _ in gateway_imports()
             if package_of(src) != package_of(dst) and LAYER[package_of(dst)] >= LAYER[package_of(src)]]
    assert not wrong, "\n".join(wrong)


def test_no_package_import_cycle():
    graph: dict[str, set[str]] = defaultdict(set)
    for src, dst, *_ in gateway_imports():
        if package_of(src) != package_of(dst):
            graph[package_of(src)].add(package_of(dst))

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph[start]:
            if nxt == goal or (nxt not in seen and (seen.add(nxt) or reaches(nxt, goal, seen))):
                return True
        return False

    cycles = sorted(p for p in list(graph) if reaches(p, p, set()))
    assert not cycles, f"packages on an import cycle: {cycles}"


def test_imports_inside_functions_only_in_factories():
    lazy = sorted({str(path.relative_to(ROOT)) for _, _, path, _, inside in gateway_imports() if inside})
    assert set(lazy) <= LAZY_IMPORTS_ALLOWED, f"move these imports to module level: {set(lazy) - LAZY_IMPORTS_ALLOWED}"


def test_modules_are_small():
    big = {str(p.relative_to(ROOT)): n for p in GATEWAY.rglob("*.py")
           if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not big, f"modules over {MAX_MODULE_LINES} lines: {big}"


def test_recipe_is_short_and_names_every_step():
    source = inspect.getsource(SpeakRecipe.prepare) + inspect.getsource(SpeakRecipe.stream)
    assert len(inspect.getsource(SpeakRecipe.stream).splitlines()) <= 40
    missing = [step for step in RECIPE_STEPS if step not in source]
    assert not missing, f"the recipe does not name: {missing}"
