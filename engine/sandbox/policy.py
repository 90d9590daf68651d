"""The compile-time policy: RestrictedPython's transformer, stricter, and the compile cache.

A refused script runs no line at all; ``Sandbox.check`` runs exactly this at deploy time.
"""

from __future__ import annotations

import ast
import dis
import functools
from collections.abc import Callable
from types import CodeType
from typing import Any, NoReturn, cast

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations

from engine.exceptions import SandboxViolation, ScriptError
from engine.sandbox.limits import _FORBIDDEN_ATTRIBUTES, _FORBIDDEN_CALLS

_FILENAME = "<script>"


_UNCATCHABLE = {"BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit"}


def _name(id_: str) -> ast.Name:
    return ast.Name(id_, ast.Load())


def _call(func: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_name(func), args=list(args), keywords=[])


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, stricter, with messages that name the refused thing."""

    def error(self, node: ast.AST, info: str) -> None:
        # Encoded so the compiler can give each violation its own line and column back.
        self.errors.append(f"{getattr(node, 'lineno', 0)}\0{getattr(node, 'col_offset', -1) + 1}\0{info}")

    def check_name(self, node: Any, name: str | None, allow_magic_methods: bool = False) -> None:
        if name is not None and name.startswith("_") and name != "_":
            self.error(node, f"access to '{name}' is not allowed: names starting with '_' are private")
        else:
            super().check_name(node, name)

    def visit_Import(self, node: ast.Import) -> Any:
        return self._refuse_import(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        return self._refuse_import(node)

    def _refuse_import(self, node: ast.stmt) -> ast.stmt:
        self.error(
            node,
            "import statements are not allowed: Decimal, datetime, date, timedelta and "
            "timezone are already available",
        )
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        self.error(node, "class definitions are not allowed: use dicts for structured data")
        return node

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        if node.attr.startswith("_"):
            self.check_name(node, node.attr)
        elif node.attr in _FORBIDDEN_ATTRIBUTES:
            self.error(node, f"access to '{node.attr}' is not allowed: it exposes interpreter internals")
        elif (
            node.attr in ("format", "format_map")
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            self.error(
                node,
                f"str.{node.attr}() is not allowed: its fields can reach private attributes; use an f-string",
            )
        else:
            return super().visit_Attribute(node)
        return self.node_contents_visit(node)

    def visit_Call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Name) and node.func.id in _FORBIDDEN_CALLS:
            self.error(node, f"calling '{node.func.id}' is not allowed: {_FORBIDDEN_CALLS[node.func.id]}")
            return self.node_contents_visit(node)
        return super().visit_Call(node)

    def visit_Try(self, node: ast.Try) -> Any:
        if node.finalbody:
            self.error(node, "'finally' blocks are not allowed in scripts")
        for handler in node.handlers:
            if handler.type is None:
                self.error(handler, "a bare 'except:' is not allowed: write 'except Exception:'")
        return super().visit_Try(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:
        node = self.node_contents_visit(node)
        self.check_name(node, node.name)
        if node.type is not None:
            for inner in ast.walk(node.type):
                if isinstance(inner, ast.Name) and inner.id in _UNCATCHABLE:
                    self.error(node, f"catching '{inner.id}' is not allowed: catch Exception or narrower")
            node.type = _call("_except_", node.type)
            copy_locations(node.type, node)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = None
        if isinstance(node.op, ast.Pow):
            guard = "_pow_"
        elif isinstance(node.op, ast.LShift):
            guard = "_lshift_"
        elif isinstance(node.op, ast.Mult) and not any(
            isinstance(side, ast.Constant) and type(side.value) in (float, complex)
            for side in (node.left, node.right)
        ):
            guard = "_mul_"  # a float literal on either side rules out repetition and big-int products
        elif isinstance(node.op, ast.Mod) and not (
            isinstance(node.left, ast.Constant) and type(node.left.value) in (int, float)
        ):
            guard = "_mod_"
        if guard is None:
            return node
        new_node = _call(guard, node.left, node.right)
        copy_locations(new_node, node)
        return new_node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        node = self.node_contents_visit(node)
        if node.format_spec is None:
            return node
        call = _call("_format_", node.value, node.format_spec, ast.Constant(node.conversion))
        new_node = ast.FormattedValue(value=call, conversion=-1, format_spec=None)
        copy_locations(new_node, node)
        return new_node

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        target = node.target
        if not isinstance(target, ast.Subscript) or isinstance(target.slice, ast.Slice):
            return super().visit_AugAssign(node)
        # totals['n'] += 1, which RestrictedPython refuses, becomes a guarded read and write.
        obj, key = self.gen_tmp_name(), self.gen_tmp_name()
        value = _call(
            "_inplacevar_",
            ast.Constant(f"{_OPS[type(node.op)]}="),
            _call("_getitem_", _name(obj), _name(key)),
            self.visit(node.value),
        )
        statements: list[ast.stmt] = [
            ast.Assign(targets=[ast.Name(obj, ast.Store())], value=self.visit(target.value)),
            ast.Assign(targets=[ast.Name(key, ast.Store())], value=self.visit(target.slice)),
            ast.Assign(
                targets=[ast.Subscript(_call("_write_", _name(obj)), _name(key), ast.Store())], value=value
            ),
            ast.Delete(targets=[ast.Name(obj, ast.Del()), ast.Name(key, ast.Del())]),
        ]
        for statement in statements:
            copy_locations(statement, node)
        return statements


_OPS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.FloorDiv: "//",
    ast.MatMult: "@",
}


class _Refusal:
    """A compile failure, cached like code so a bad expression is not recompiled on every call."""

    __slots__ = ("context", "kind", "message")

    def __init__(self, kind: type[ScriptError], message: str, **context: Any) -> None:
        self.kind, self.message, self.context = kind, message, context

    def raise_(self) -> NoReturn:
        raise self.kind(self.message, **self.context)


_Compiled = tuple[CodeType, bool, tuple[str, ...]]  # code, needs a namespace of its own, names it binds
_BINDING_OPS = frozenset({"STORE_NAME", "STORE_GLOBAL", "DELETE_NAME", "DELETE_GLOBAL"})


def _bound_names(code: CodeType) -> set[str]:
    """The top-level names ``code`` assigns or deletes, also through ``global`` in its functions."""
    names = {op.argval for op in dis.get_instructions(code) if op.opname in _BINDING_OPS}
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _bound_names(const)
    return names


_NEEDS_NAMESPACE = (ast.NamedExpr, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _compile(source: str, mode: str) -> _Compiled | _Refusal:
    """Compile ``source`` with the policy, or say why not."""
    try:
        tree = cast(ast.Module | ast.Expression, ast.parse(source, _FILENAME, mode))
    except SyntaxError as err:
        where = f"line {err.lineno}, column {err.offset}" if err.offset else f"line {err.lineno}"
        return _Refusal(
            ScriptError,
            f"syntax error at {where} of the script: {err.msg}",
            line=err.lineno,
            offset=err.offset,
        )
    isolated = mode == "exec" or any(isinstance(node, _NEEDS_NAMESPACE) for node in ast.walk(tree))
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compiler(tree, filename=_FILENAME, policy=_Policy)
    if result.errors:
        violations = [(int(a), int(b), text) for a, b, text in (e.split("\0", 2) for e in result.errors)]
        line, column, message = violations[0]
        more = f"; and {len(violations) - 1} more problem(s)" if len(violations) > 1 else ""
        return _Refusal(
            SandboxViolation,
            f"{message} (line {line} of the script){more}",
            line=line,
            offset=column or None,
            violations=[v[2] for v in violations],
        )
    code = cast(CodeType, result.code)
    return code, isolated, tuple(sorted(_bound_names(code)))


def _cached_compiler(cache_size: int) -> Callable[[str, str], _Compiled | _Refusal]:
    """``_compile`` behind an LRU cache of its own: refusals are cached too, so a bad expression is
    not recompiled on every call."""
    return functools.lru_cache(maxsize=cache_size)(_compile)
