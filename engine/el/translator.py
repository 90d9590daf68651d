"""EL syntax tree -> the Python expression the sandbox runs.

Every operator becomes a call of the matching ``el`` helper (``engine.el.runtime.ELScope``) so that
JUEL's coercions apply; ``&&``, ``||``, ``!`` and ``? :`` become Python's ``and``, ``or``, ``not``
and ``if``/``else`` over ``el.to_bool(...)`` so that they short-circuit as in EL. Everything the
sandbox could be asked to refuse is refused here first, with a message in EL's own terms.
"""

from __future__ import annotations

from lark import Token, Tree

from engine.el.coercion import LONG_MAX
from engine.el.errors import ELError
from engine.el.tree import TreeTranslator

METHODS = (
    "execution.getVariable(name)",
    "execution.hasVariable(name)",
    "size()",
    "isEmpty()",
    "length()",
    "contains(x)",
    "containsKey(key)",
    "toString()",
)
_NO_ARG = {"size": "size", "isEmpty": "is_empty_call", "length": "size", "toString": "text"}
_ONE_ARG = {"contains": "contains", "containsKey": "contains_key"}
_EXECUTION = {"getVariable": "get_variable", "hasVariable": "has_variable"}
_COMPARE = {
    "==": "eq", "eq": "eq", "!=": "ne", "ne": "ne",
    "<": "lt", "lt": "lt", ">": "gt", "gt": "gt", "<=": "le", "le": "le", ">=": "ge", "ge": "ge",
}  # fmt: skip
_ARITH = {"+": "add", "-": "sub", "*": "mul", "/": "div", "div": "div", "%": "mod", "mod": "mod"}
_ESCAPES = {"\\": "\\", "'": "'", '"': '"'}


class Translator(TreeTranslator):
    """Translates one parsed EL expression; ``offset`` places its columns in the whole text."""

    error = ELError

    # -- literals and names ---------------------------------------------------------------------------

    def t_integer(self, node: Tree[Token]) -> str:
        text = str(node.children[0])
        if len(text) > 19 or int(text) > LONG_MAX:
            raise self.fail(
                f"the number {text[:30]}{'...' if len(text) > 30 else ''} is larger than a Long "
                "(64 bits) can hold; write a smaller number or use a decimal variable",
                node,
            )
        return str(int(text))

    def t_floating(self, node: Tree[Token]) -> str:
        text = str(node.children[0])
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise self.fail(f"the number {text[:30]} is out of range for a Double", node)
        return repr(value)

    def t_string(self, node: Tree[Token]) -> str:
        token = node.children[0]
        assert isinstance(token, Token)
        raw, out, i = str(token)[1:-1], [], 0
        while i < len(raw):
            char = raw[i]
            if char == "\\":
                escaped = raw[i + 1] if i + 1 < len(raw) else ""
                if escaped not in _ESCAPES:
                    raise self.fail(
                        f"`\\{escaped}` is not an escape in EL strings: only \\', \\\" and \\\\ are", token
                    )
                out.append(_ESCAPES[escaped])
                i += 2
                continue
            out.append(char)
            i += 1
        return repr("".join(out))

    def t_true(self, node: Tree[Token]) -> str:
        return "True"

    def t_false(self, node: Tree[Token]) -> str:
        return "False"

    def t_null(self, node: Tree[Token]) -> str:
        return "None"

    def t_reserved(self, node: Tree[Token]) -> str:
        raise self.fail(f"`{node.children[0]}` is not supported in Flowdesk EL", node)

    def _name(self, token: Token, what: str) -> str:
        name = str(token)
        if name.startswith("_"):
            raise self.fail(f"{what} `{name}` is not allowed: names starting with '_' are private", token)
        if "$" in name:
            raise self.fail(f"{what} `{name}` is not allowed: '$' cannot be part of a name here", token)
        return name

    def t_var(self, node: Tree[Token]) -> str:
        token = node.children[0]
        assert isinstance(token, Token)
        name = self._name(token, "identifier")
        if name == "execution":
            raise self.fail(
                "`execution` can only be used as execution.getVariable('name') or "
                "execution.hasVariable('name')",
                token,
            )
        return f"el.var({name!r})"

    # -- properties, methods, functions -----------------------------------------------------------------

    def t_prop(self, node: Tree[Token]) -> str:
        base, token = node.children
        assert isinstance(base, Tree) and isinstance(token, Token)
        return f"el.prop({self.node(base)}, {self._name(token, 'property')!r})"

    def t_index(self, node: Tree[Token]) -> str:
        base, key = node.children
        assert isinstance(base, Tree) and isinstance(key, Tree)
        return f"el.prop({self.node(base)}, {self.node(key)})"

    def _args(self, args: Tree[Token] | Token | None) -> list[str]:
        if args is None:
            return []
        assert isinstance(args, Tree)
        return [self.node(child) for child in args.children if isinstance(child, Tree | Token)]

    def t_method(self, node: Tree[Token]) -> str:
        base, token, args_node = node.children
        assert isinstance(base, Tree) and isinstance(token, Token)
        name = self._name(token, "method")
        args = self._args(args_node)
        is_execution = base.data == "var" and str(base.children[0]) == "execution"
        if is_execution and name in _EXECUTION and len(args) == 1:
            return f"el.{_EXECUTION[name]}({args[0]})"
        if not is_execution and name in _NO_ARG and not args:
            return f"el.{_NO_ARG[name]}({self.node(base)})"
        if not is_execution and name in _ONE_ARG and len(args) == 1:
            return f"el.{_ONE_ARG[name]}({self.node(base)}, {args[0]})"
        raise self.fail(
            f"the method call `{name}({', '.join('…' for _ in args)})` is not supported: Flowdesk EL "
            f"calls only {', '.join(METHODS)}; compute other values in a script task or a handler",
            token,
        )

    def t_function(self, node: Tree[Token]) -> str:
        names = [str(child) for child in node.children if isinstance(child, Token)]
        raise self.fail(
            f"the function `{':'.join(names)}()` is not available: Flowdesk EL has no functions; "
            "compute the value in a script task or a handler and refer to its variable",
            node.children[0],
        )

    # -- operators ---------------------------------------------------------------------------------------

    def t_choice(self, node: Tree[Token]) -> str:
        test, yes, no = (self.node(child) for child in node.children)
        return f"({yes} if el.to_bool({test}) else {no})"

    def t_or_(self, node: Tree[Token]) -> str:
        return self.binary(node, "(el.to_bool({left}) or el.to_bool({right}))")

    def t_and_(self, node: Tree[Token]) -> str:
        return self.binary(node, "(el.to_bool({left}) and el.to_bool({right}))")

    def t_not_(self, node: Tree[Token]) -> str:
        return f"(not el.to_bool({self.node(node.children[1])}))"

    def t_neg(self, node: Tree[Token]) -> str:
        return f"el.neg({self.node(node.children[1])})"

    def t_empty(self, node: Tree[Token]) -> str:
        return f"el.empty({self.node(node.children[1])})"

    def t_compare(self, node: Tree[Token]) -> str:
        return self.binary(node, f"el.{_COMPARE[str(node.children[1])]}({{left}}, {{right}})")

    def t_arith(self, node: Tree[Token]) -> str:
        return self.binary(node, f"el.{_ARITH[str(node.children[1])]}({{left}}, {{right}})")
