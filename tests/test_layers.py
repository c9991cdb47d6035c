"""The import rules of DESIGN.md, checked over the source (imports inside functions count):
no module sits on an import cycle, ``ledger`` never imports Flask or ``marketplace``, and no
module imports from a higher layer than its own (the layer table is in README.md)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Lowest first. A module belongs to the first layer with a prefix it starts with; it may
#: import its own layer and the ones below.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("ledger",),
    ("marketplace.config", "marketplace.errors", "marketplace.api", "marketplace.extensions",
     "marketplace.time", "marketplace.markdown", "marketplace.urls", "marketplace.db",
     "marketplace.outbox", "marketplace.queue", "marketplace.input_guards", "marketplace.forms",
     "marketplace.files", "marketplace.sqlite", "marketplace.pagination",
     "marketplace.text_rules", "marketplace.uploads", "marketplace.headers"),
    ("*.models", "marketplace.challenges.terms", "marketplace.accounts.passwords",
     "marketplace.finance.chart", "marketplace.audit.log"),
    ("marketplace.accounts", "marketplace.auth", "marketplace.rate_limits",
     "marketplace.notifications", "marketplace.idempotency"),
    ("marketplace.challenges", "marketplace.dialogue", "marketplace.portal",
     "marketplace.payments.provider", "marketplace.payments.stripe_provider",
     "marketplace.payments.services", "marketplace.payments.discrepancies",
     "marketplace.payments.registry", "marketplace.payments.currencies"),
    ("marketplace.proposals",),
    # An award records the team's split as the first contribution of the value it creates.
    ("marketplace.judging", "marketplace.value.contributions"),
    ("marketplace.value",),
    ("marketplace.payouts",),
    # Stripe's webhook events settle payments and payouts alike; a refused refund (sent by
    # marketplace.payments.refunds) is told to the admins through operations.
    ("marketplace.payments", "marketplace.finance", "marketplace.insight",
     "marketplace.operations", "marketplace.audit"),
    ("marketplace.models",),
    ("views, API resources, schemas and forms of every area",),
    ("marketplace.jobs", "marketplace.schedule", "marketplace.worker", "marketplace.cli",
     "marketplace.demo", "marketplace.main", "marketplace"),
)  # fmt: skip
VIEW_MODULES = ("views", "api", "schemas", "forms", "webhooks")


def modules() -> dict[str, Path]:
    found = {}
    for package in ("marketplace", "ledger"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports_of(path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``path`` imports, anywhere in the file."""
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [n if n in known else node.module for n in names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                targets.add(name)
    return targets


def graph() -> dict[str, set[str]]:
    known = modules()
    return {
        name: {t for t in imports_of(path, known) if t != name and not name.startswith(t + ".")}
        for name, path in known.items()
    }


def layer(module: str) -> int:
    """Views, API resources, schemas and forms of an area sit above every service."""
    parts = module.split(".")
    if len(parts) == 3 and parts[0] == "marketplace" and parts[2] in VIEW_MODULES:
        return len(LAYERS) - 2
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if prefix == "*.models" and parts[-1] == "models" and len(parts) == 3:
                return index
            if module == prefix or module.startswith(prefix + "."):
                return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def cycles(edges: dict[str, set[str]]) -> list[str]:
    def reaches(start: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            for target in edges[todo.pop()]:
                if target == start:
                    return True
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return False

    return sorted(m for m in edges if reaches(m))


def test_no_module_sits_on_an_import_cycle() -> None:
    assert cycles(graph()) == []


def test_the_checker_sees_a_cycle_made_by_an_import_inside_a_function() -> None:
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == ["a", "b"]


def test_no_module_imports_a_higher_layer() -> None:
    wrong = sorted(
        f"{module} (layer {layer(module)}) imports {target} (layer {layer(target)})"
        for module, targets in graph().items()
        for target in targets
        if layer(target) > layer(module)
    )
    assert wrong == []


def test_the_ledger_never_imports_flask_or_the_app() -> None:
    for path in (ROOT / "ledger").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                for name in names:
                    assert name.split(".")[0] not in ("flask", "marketplace"), path
