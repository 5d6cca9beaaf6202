"""The house drawn from its imports: adapters (MCP, CLI) -> service -> domain -> storage
boundary -> engine -> the values storage takes and returns. Each module imports only from its
own layer or below; SQLite (its modules, its SQL) lives in remembrancer/storage/sqlite/ and
nowhere else."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import remembrancer
from remembrancer.storage import Storage

PACKAGE = Path(remembrancer.__file__).parent
LAYERS = {
    "adapters": {
        "__main__",
        "cli",
        "cli_files",
        "cli_support",
        "server",
        "serving",
        "display",
        "tool_text",
        "doctor",
        "stdio_guard",
        "stdio_transport",
        "auth",
        "cli_serving",
        "web",
        "web.access",
        "web.app",
        "web.charts",
        "web.routes",
    },
    "service": {"service", "curation", "review", "transfer", "copying", "browsing"},
    "domain": {
        "changes",
        "relevance",
        "retrieval",
        "query_dates",
        "asking_when",
        "word_forms",
        "moments",
        "recall_lines",
        "short_ids",
        "dedup",
        "statements",
        "comparison",
        "told_changes",
        "quantities",
        "lexicon",
        "related_words",
        "addressing",
        "llm_judge",
        "llm_providers",
        "embeddings",
        "tokens",
        "validation",
        "models",
        "config",
    },
    "storage": {"storage", "storage.interface"},  # the way in: open a store, its protocols
    "engine": {"storage.sqlite", "storage.decisions", "storage.postgres"},  # and their modules
    "storage values": {"storage.rows", "storage.word_budget"},  # what every engine takes and returns
    "base": {"", "errors"},
}
ORDER = ["base", "storage values", "engine", "storage", "domain", "service", "adapters"]
ENGINE_MODULES = {
    "storage.sqlite": ("sqlite3", "sqlean", "sqlite_vec"),
    "storage.postgres": ("psycopg", "psycopg_pool", "pgvector"),
}
#: SQL over our schema (a statement naming one of our tables), or SQLite's own commands.
SQL = re.compile(
    r"\b(from|into|update|join|table)\s+(memories|history|memory_\w+|meta|schema_migrations|vector_log|"
    r"sightings|links|temp\.\w+)\b|\bpragma\s+\w+|\bbegin\s+immediate\b|\bsavepoint\s+\w+",
    re.IGNORECASE,
)


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(PACKAGE).with_suffix("").parts).removesuffix("__init__").rstrip(".")
        found[name] = ast.parse(path.read_text(encoding="utf-8"))
    return found


def _layer(module: str) -> str:
    for layer, names in LAYERS.items():
        if module in names:
            return layer
    if module.startswith(("storage.sqlite.", "storage.postgres.")):
        return "engine"
    raise AssertionError(f"remembrancer.{module} has no layer: add it to LAYERS in tests/test_layers.py")


def _imports(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module == "remembrancer":
                names |= {f"remembrancer.{alias.name}" for alias in node.names}
    return names


def _ours(name: str) -> str | None:
    return None if not (name == "remembrancer" or name.startswith("remembrancer.")) else name[13:]


def test_each_module_imports_only_from_its_own_layer_or_below() -> None:
    upward = []
    for module, tree in _modules().items():
        rank = ORDER.index(_layer(module))
        for imported in _imports(tree):
            target = _ours(imported)
            if (
                target is not None
                and target not in ("package_version",)
                and ORDER.index(_layer(target)) > rank
            ):
                upward.append(f"{module} ({_layer(module)}) imports {target} ({_layer(target)})")
    assert not upward, upward


def test_each_engine_lives_in_its_own_package_only() -> None:
    """Outside an engine's package (storage/sqlite/, storage/postgres/): none of its driver
    modules imported; outside the engines, no SQL written; outside storage/, no engine imported
    either (storage/__init__.py is the way in)."""
    found = []
    for module, tree in _modules().items():
        for imported in _imports(tree):
            for package, drivers in ENGINE_MODULES.items():
                if imported.split(".")[0] in drivers and not module.startswith(package):
                    found.append(f"{module} imports {imported}")
            engine = (_ours(imported) or "").startswith(tuple(ENGINE_MODULES))
            if engine and not module.startswith("storage"):
                found.append(f"{module} imports the engine ({imported}) instead of remembrancer.storage")
        if _layer(module) == "engine":
            continue
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        found += [
            f"{module}:{node.lineno} writes SQL: {node.value[:50]!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and SQL.search(node.value)
        ]
    assert not found, found


def test_the_sql_check_would_see_sql() -> None:
    assert SQL.search("select rowid from memories where id = ?")
    assert SQL.search("pragma wal_checkpoint(truncate)")
    assert SQL.search("update memory_fts set context = ? where rowid = ?")
    assert not SQL.search("Select the memories you want to keep from the list")


def _store_attributes(tree: ast.Module) -> set[str]:
    """What a module asks of anything it calls a store (``store.x``, ``self.store.x``)."""
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and (
            (isinstance(node.value, ast.Name) and node.value.id == "store")
            or (isinstance(node.value, ast.Attribute) and node.value.attr == "store")
        )
    }


def test_outside_storage_a_store_is_used_through_its_protocols_only() -> None:
    """Nothing outside storage/ reaches past the interface (a connection, a lock, the vector
    copy): what a second engine implements is exactly what the rest of the code uses."""
    fields = {name for cls in Storage.__mro__ for name in getattr(cls, "__annotations__", {})}
    offered = {name for name in dir(Storage) if not name.startswith("_")} | fields
    beyond = {
        f"{module}: store.{name}"
        for module, tree in _modules().items()
        if not module.startswith("storage")
        for name in _store_attributes(tree) - offered
    }
    assert not beyond, sorted(beyond)


DRAWING = Path(__file__).parent.parent / "docs" / "architecture.md"


def house_drawing() -> str:
    """The layers as a Mermaid diagram drawn from the imports: each layer's modules, and an arrow
    for each pair of layers one imports from, labelled with how many module imports it carries."""
    modules = _modules()
    edges: dict[tuple[str, str], int] = {}
    for module, tree in modules.items():
        for target in {_ours(name) for name in _imports(tree)} - {None, "package_version"}:
            if target is not None and target in modules and _layer(target) != _layer(module):
                pair = (_layer(module), _layer(target))
                edges[pair] = edges.get(pair, 0) + 1
    slug = {layer: layer.replace(" ", "_") for layer in ORDER}
    lines = ["flowchart TB"]
    for layer in reversed(ORDER):
        names = sorted(module or "remembrancer" for module in modules if _layer(module) == layer)
        lines.append(f'    {slug[layer]}["<b>{layer}</b><br/>{", ".join(names)}"]')
    for (source, target), count in sorted(edges.items(), key=lambda e: (-ORDER.index(e[0][0]), e[0][1])):
        lines.append(f"    {slug[source]} -->|{count}| {slug[target]}")
    return (
        "# The house, drawn from its imports\n\n"
        "Each box is a layer and the modules in it; an arrow says a layer imports from another, and\n"
        "how many module imports it carries. Every arrow points down: nothing imports from a layer\n"
        "above its own (`tests/test_layers.py` checks, and regenerates this page when run as\n"
        "`python tests/test_layers.py`).\n\n"
        "```mermaid\n" + "\n".join(lines) + "\n```\n"
    )


def test_the_drawing_of_the_house_is_current() -> None:
    assert DRAWING.read_text(encoding="utf-8") == house_drawing(), "run `python tests/test_layers.py`"


if __name__ == "__main__":
    DRAWING.parent.mkdir(exist_ok=True)
    DRAWING.write_text(house_drawing(), encoding="utf-8")
    print(f"wrote {DRAWING}")
