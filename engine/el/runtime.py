"""What the name ``el`` means inside a translated expression: the variables and EL's operators.

The translation of ``${amount > 1000}`` is ``el.lt(...)``-style Python that the sandbox compiles and
runs; variables are never Python names in it, so no variable can shadow a helper and no helper
can be reached as a variable. Property access reads dict keys and list items only: it never calls
``getattr``, so no EL expression can reach an attribute of a Python object.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from engine.el import operators
from engine.el.coercion import is_empty, to_bool, to_long, to_text, type_name
from engine.el.errors import ELError


class ELScope:
    """One evaluation's view of the process variables, with JUEL's semantics."""

    __slots__ = ("_variables",)

    def __init__(self, variables: Mapping[str, Any]) -> None:
        self._variables = variables

    # -- names and properties ---------------------------------------------------------------------

    def var(self, name: str) -> Any:
        try:
            return self._variables[name]
        except KeyError:
            raise ELError(
                f"cannot resolve identifier '{name}': no variable of that name is set; set it before "
                f"this point, or write ${{execution.getVariable('{name}')}} for a value that may be missing"
            ) from None

    def get_variable(self, name: Any) -> Any:
        return self._variables.get(to_text(name))

    def has_variable(self, name: Any) -> bool:
        return to_text(name) in self._variables

    @staticmethod
    def prop(base: Any, key: Any) -> Any:
        """``base.key`` and ``base[key]``: a map entry (null when absent), a list item (null out of range)."""
        if base is None:
            return None
        if isinstance(base, Mapping):
            return base.get(key)
        if isinstance(base, list | tuple):
            index = to_long(key)
            return base[index] if 0 <= index < len(base) else None
        raise ELError(
            f"cannot read property '{to_text(key)}' of a {type_name(base)}: properties are read from "
            "maps (JSON objects) and lists only"
        )

    # -- the whitelisted methods --------------------------------------------------------------------

    @staticmethod
    def size(base: Any) -> int:
        if isinstance(base, str | list | tuple | Mapping):
            return len(base)
        raise ELError(f"size() needs a list, map or string, not a {type_name(base)}")

    @staticmethod
    def is_empty_call(base: Any) -> bool:
        if isinstance(base, str | list | tuple | Mapping):
            return len(base) == 0
        raise ELError(f"isEmpty() needs a list, map or string, not a {type_name(base)}")

    @staticmethod
    def contains(base: Any, item: Any) -> bool:
        if isinstance(base, str):
            return to_text(item) in base
        if isinstance(base, list | tuple):
            return any(operators.equals(element, item) for element in base)
        raise ELError(f"contains() needs a list or string, not a {type_name(base)}")

    @staticmethod
    def contains_key(base: Any, key: Any) -> bool:
        if isinstance(base, Mapping):
            return key in base
        raise ELError(f"containsKey() needs a map, not a {type_name(base)}")

    # -- operators ------------------------------------------------------------------------------------

    to_bool = staticmethod(to_bool)
    text = staticmethod(to_text)
    empty = staticmethod(is_empty)
    eq = staticmethod(operators.equals)
    neg = staticmethod(operators.negate)
    div = staticmethod(operators.divide)
    mod = staticmethod(operators.modulo)

    ne = staticmethod(operators.not_equals)
    lt = staticmethod(partial(operators.compare, "<"))
    gt = staticmethod(partial(operators.compare, ">"))
    le = staticmethod(partial(operators.compare, "<="))
    ge = staticmethod(partial(operators.compare, ">="))
    add = staticmethod(partial(operators.arithmetic, "+"))
    sub = staticmethod(partial(operators.arithmetic, "-"))
    mul = staticmethod(partial(operators.arithmetic, "*"))

    @staticmethod
    def concat(*parts: Any) -> str:
        """Composite text: every part coerced to String and joined."""
        return "".join(to_text(part) for part in parts)

    @staticmethod
    def condition(value: Any) -> bool:
        """A sequence flow condition must come out as a Boolean, as in Camunda."""
        if isinstance(value, bool):
            return value
        raise ELError(
            f"the condition returned {type_name(value)} {to_text(value)[:40]!r}, not a Boolean; "
            "compare the value, e.g. ${approved == true} or ${not empty x}"
        )
