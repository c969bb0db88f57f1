"""The domain's one transaction convention (gateway/domain/__init__.py): a function that
begins a transaction is marked `@owns_transaction`, its first parameter is the session,
and the mark refuses a session already in a transaction; no web view or CLI verb begins
one itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from gateway.domain.transaction import owns_transaction

ROOT = Path(__file__).resolve().parents[2]


def _begins(fn: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "begin"
        for n in ast.walk(fn)
    )


def _marked(fn: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "owns_transaction" for d in fn.decorator_list)


def _functions(folder: str) -> list[tuple[Path, ast.FunctionDef]]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef):
                found.append((path, node))
    return found


def test_every_domain_function_that_begins_a_transaction_is_marked() -> None:
    unmarked = [
        f"{path.relative_to(ROOT)}:{fn.name}"
        for path, fn in _functions("gateway/domain")
        if _begins(fn)
        and not _marked(fn)
        and fn.args.args
        and fn.args.args[0].arg == "session"
        and not any(a.arg == "inside" for a in fn.args.args + fn.args.kwonlyargs)
    ]
    assert unmarked == []


def test_marked_functions_take_the_session_first() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{fn.name}"
        for path, fn in _functions("gateway/domain")
        if _marked(fn) and (not fn.args.args or fn.args.args[0].arg != "session")
    ]
    assert wrong == []


@pytest.mark.parametrize("folder", ["gateway/web", "gateway/cli"])
def test_no_view_or_verb_begins_a_transaction(folder: str) -> None:
    beginning = [
        f"{path.relative_to(ROOT)}:{fn.name}" for path, fn in _functions(folder) if _begins(fn)
    ]
    assert beginning == []


def test_the_mark_refuses_a_session_already_in_a_transaction() -> None:
    calls: list[str] = []

    @owns_transaction
    def service(session: Session, value: str) -> str:
        with session.begin():
            calls.append(value)
        return value

    engine = create_engine("sqlite://")
    with Session(engine) as session:
        assert service(session, "alone") == "alone"
        with session.begin(), pytest.raises(RuntimeError, match="begins its own transaction"):
            service(session, "inside")
    assert calls == ["alone"]
