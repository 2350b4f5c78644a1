"""The domain package imports no database, broker or HTTP library (no I/O)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "src" / "bankrec" / "ledger" / "domain"
IO_PACKAGES = {"sqlalchemy", "alembic", "faststream", "aiokafka", "fastapi", "httpx", "psycopg"}
ALLOWED_LEDGER_MODULES = {"bankrec.ledger.errors"}


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda p: p.name)
def test_a_domain_module_does_no_io(path: Path) -> None:
    for module in imported_modules(path):
        assert module.split(".")[0] not in IO_PACKAGES, f"{path.name} imports {module}"
        if module.startswith("bankrec.") and not module.startswith("bankrec.contracts"):
            assert module.startswith("bankrec.ledger.domain") or module in ALLOWED_LEDGER_MODULES, (
                f"{path.name} imports {module}"
            )
