"""The import graph of voicesmith: every arrow points down the layers, and there is no cycle.

    cli, server, admin            the processes and the operator's commands (may use everything below)
    api          worker           HTTP/WebSocket; the jobs consumed from the broker
    service                       the rules
    store  broker  engine         SQLAlchemy + blobs; the Celery app and task names; speech
    config                        the server's settings

`client` (the Python client and its CLI) stands apart: it talks HTTP to the api and imports nothing of
the server. Imports are read from the source (ast), including those inside functions.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import voicesmith
import voicesmith.engine

PACKAGE = Path(voicesmith.__file__).resolve().parent

# What each layer may import, besides itself.
ALLOWED = {
    "top": {"top", "api", "worker", "service", "store", "broker", "engine", "config", "client"},
    "api": {"service", "store", "config"},
    "worker": {"service", "store", "broker", "engine", "config"},
    "service": {"store", "broker", "engine", "config"},
    "store": {"config"},
    "broker": {"config"},
    "engine": set(),
    "config": set(),
    "client": set(),
}
TOP_LEVEL = {"cli", "server", "admin", "__main__"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> str:
    part = module.split(".")[1] if "." in module else "top"
    return "top" if part in TOP_LEVEL else part


def _imports(path: Path) -> set[str]:
    """The voicesmith modules `path` imports (for `from voicesmith.x import y`, y when it is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("voicesmith"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("voicesmith"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                is_module = any((PACKAGE.parent / candidate.replace(".", "/")).with_suffix(s).exists()
                                for s in (".py", "")) and candidate in MODULES
                found.add(candidate if is_module else node.module)
    return found


SOURCES = {p: _module_name(p) for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}
MODULES = set(SOURCES.values())
GRAPH = {module: {m for m in _imports(path) if m in MODULES and m != module} for path, module in SOURCES.items()}


def test_every_import_points_down_the_layers() -> None:
    upward = sorted(
        f"{src} -> {dst}" for src, targets in GRAPH.items() for dst in targets
        if _layer(dst) != _layer(src) and _layer(dst) not in ALLOWED[_layer(src)]
    )
    assert not upward, "imports against the layering:\n" + "\n".join(upward)


def test_the_import_graph_has_no_cycle() -> None:
    # Tarjan's strongly connected components: any component of two or more modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert not cycles, f"import cycles: {cycles}"


def test_outside_the_engine_only_its_public_modules_are_imported() -> None:
    public = {f"voicesmith.engine.{name}" for name in voicesmith.engine.__all__}
    private = sorted(
        f"{src} -> {dst}" for src, targets in GRAPH.items() if _layer(src) != "engine"
        for dst in targets if _layer(dst) == "engine" and dst not in public | {"voicesmith.engine"}
    )
    assert not private, "imports of the engine's internals:\n" + "\n".join(private)


def test_the_engines_public_surface_is_pinned() -> None:
    # Changing this list changes what the service layer and the worker may rely on: do it on purpose.
    assert voicesmith.engine.__all__ == [
        "audio", "clone", "consent", "dataset_report", "encoding", "fine_tune", "settings", "stock", "synthesis",
        "voice",
    ]
    for name in voicesmith.engine.__all__:
        assert (PACKAGE / "engine" / f"{name}.py").is_file(), name


def test_the_client_loads_without_the_server() -> None:
    # What a client-only user imports must not pull in the server, its database or the speech models.
    code = (
        "import sys, voicesmith.client, voicesmith.client.cli\n"
        "heavy = ('sqlalchemy', 'celery', 'onnxruntime', 'torch', 'fastapi')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy\n"
        "             or (m.startswith('voicesmith.') and not m.startswith('voicesmith.client'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout
