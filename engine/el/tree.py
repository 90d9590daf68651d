"""What the EL and FEEL translators share: walking a lark tree into Python, with located errors."""

from __future__ import annotations

from lark import Token, Tree

from engine.exceptions import ExpressionError

MAX_DEPTH = 40
"""Deepest expression tree translated; realistic conditions stay below 10. The LALR parser itself is
iterative, so only the (recursive) translation needs the bound."""


def depth(tree: Tree[Token]) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in node.children if isinstance(child, Tree))
    return deepest


class TreeTranslator:
    """Translates one parsed expression by calling ``t_<rule>`` per node; ``offset`` places the
    tree's columns in the whole attribute text."""

    error: type[ExpressionError] = ExpressionError

    def __init__(self, offset: int = 0) -> None:
        self.offset = offset

    def fail(self, message: str, node: Tree[Token] | Token | None) -> ExpressionError:
        column = None
        if isinstance(node, Token):
            column = node.column
        elif isinstance(node, Tree) and not node.meta.empty:
            column = node.meta.column
        position = column + self.offset if column is not None else None
        where = f" (column {position})" if position is not None else ""
        return self.error(f"{message}{where}", position=position)

    def translate(self, tree: Tree[Token]) -> str:
        if depth(tree) > MAX_DEPTH:
            raise self.fail(
                f"the expression is nested more than {MAX_DEPTH} levels deep; split it, or compute "
                "the value in a script task or a handler",
                tree,
            )
        return self.node(tree)

    def node(self, node: Tree[Token] | Token | None) -> str:
        if not isinstance(node, Tree):
            raise self.fail(f"unexpected `{node}`", node)
        handler = getattr(self, f"t_{node.data}", None)
        if handler is None:
            raise self.fail(f"`{node.data}` is not supported", node)
        result: str = handler(node)
        return result

    def binary(self, node: Tree[Token], template: str) -> str:
        """A ``left OP right`` node as ``template`` with {left}, {op} and {right} filled in."""
        left, op, right = node.children
        return template.format(left=self.node(left), op=str(op), right=self.node(right))
