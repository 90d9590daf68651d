"""FEEL syntax tree -> the Python expression the sandbox runs, over the ``feel`` helper object."""

from __future__ import annotations

import json
from decimal import Decimal

from lark import Token, Tree

from engine.el.tree import TreeTranslator
from engine.feel.errors import FeelError

FUNCTIONS = ("not(x)",)


class Translator(TreeTranslator):
    """Translates one parsed FEEL expression; ``offset`` places its columns in the attribute text."""

    error = FeelError

    def _name(self, token: Tree[Token] | Token | None, what: str) -> str:
        assert isinstance(token, Token)
        if token.startswith("_"):
            raise self.fail(f"{what} `{token}` is not allowed: names starting with '_' are private", token)
        return str(token)

    def t_number(self, node: Tree[Token]) -> str:
        text = str(node.children[0])
        if len(text) > 30:
            raise self.fail(f"the number {text[:30]}... has more than 30 digits", node)
        value = Decimal(text)
        return (
            repr(int(value))
            if value == value.to_integral_value() and "." not in text
            else f"Decimal({text!r})"
        )

    def t_string(self, node: Tree[Token]) -> str:
        token = node.children[0]
        try:
            value = json.loads(str(token))  # FEEL's escapes (\" \\ \n \t \uXXXX) are JSON's
        except ValueError:
            raise self.fail(
                'the string has an escape FEEL does not know; use \\", \\\\, \\n or \\t', token
            ) from None
        return repr(value)

    def t_true(self, node: Tree[Token]) -> str:
        return "True"

    def t_false(self, node: Tree[Token]) -> str:
        return "False"

    def t_null(self, node: Tree[Token]) -> str:
        return "None"

    def t_var(self, node: Tree[Token]) -> str:
        return f"feel.var({self._name(node.children[0], 'name')!r})"

    def t_path(self, node: Tree[Token]) -> str:
        base, key = node.children
        return f"feel.path({self.node(base)}, {self._name(key, 'name')!r})"

    def t_index(self, node: Tree[Token]) -> str:
        base, key = node.children
        literal = key
        sign = 1
        if isinstance(key, Tree) and key.data == "neg":
            literal, sign = key.children[1], -1
        if isinstance(literal, Tree) and literal.data == "number" and "." not in str(literal.children[0]):
            return f"feel.item({self.node(base)}, {sign * int(str(literal.children[0]))})"
        raise self.fail(
            "only a literal position is supported in brackets (items[1], items[-1]); filters are not", node
        )

    def t_list_(self, node: Tree[Token]) -> str:
        args = node.children[0]
        items = [self.node(child) for child in args.children] if isinstance(args, Tree) else []
        return f"[{', '.join(items)}]"

    def t_function(self, node: Tree[Token]) -> str:
        name_token, args = node.children
        name = self._name(name_token, "function")
        items = [self.node(child) for child in args.children] if isinstance(args, Tree) else []
        if name == "not" and len(items) == 1:
            return f"feel.not_({items[0]})"
        raise self.fail(
            f"the FEEL function `{name}()` is not supported: Flowdesk runs {', '.join(FUNCTIONS)}; "
            "compute other values in a handler",
            name_token,
        )

    def t_choice(self, node: Tree[Token]) -> str:
        _, test, _, yes, _, no = node.children
        return f"feel.choice({self.node(test)}, {self.node(yes)}, {self.node(no)})"

    def t_or_(self, node: Tree[Token]) -> str:
        return self.binary(node, "feel.disj({left}, {right})")

    def t_and_(self, node: Tree[Token]) -> str:
        return self.binary(node, "feel.conj({left}, {right})")

    def t_compare(self, node: Tree[Token]) -> str:
        return self.binary(node, "feel.compare('{op}', {left}, {right})")

    def t_arith(self, node: Tree[Token]) -> str:
        return self.binary(node, "feel.arith('{op}', {left}, {right})")

    def t_neg(self, node: Tree[Token]) -> str:
        return f"feel.neg({self.node(node.children[1])})"
