"""Which language an expression in a BPMN file is written in, checked at deploy time and run later.

SpiffWorkflow hands every condition and expression to the script engine as text. Python is what
spiffworkflow and plain files write; Camunda 7 files write EL (``${amount > 1000}``), which can never
be valid Python (``$`` is not a Python character), so the text itself tells the two apart.

Camunda 8 files write FEEL with a leading ``=`` (``=amount > 1000``), which cannot start Python either.

Sequence flow conditions and completion conditions must come out as a Boolean, so at deploy time
their EL and FEEL text is handed to SpiffWorkflow with ``EL_CONDITION`` (``FEEL_CONDITION``) in
front; the script engine then knows to insist on a Boolean (Camunda's rule) instead of Python's
truthiness, where the String ``'false'`` would count as true. The stored BPMN file itself is never changed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

from engine.bpmn_xml import CAMUNDA_NS, Element, iter_bpmn, q
from engine.el import ELError, compile_el, is_el
from engine.exceptions import ScriptError
from engine.feel import FeelError, compile_feel, is_feel
from engine.problems import Problem
from engine.sandbox import Sandbox

EL_CONDITION = "el-condition:"
FEEL_CONDITION = "feel-condition:"
# EL text that does not start with ``${`` (``PT${minutes}M``) handed to the script engine as a value.
EL_TEXT = "el-text:"
CONDITION_ELEMENTS = ("conditionExpression", "completionCondition")
EXPRESSION_ELEMENTS = (*CONDITION_ELEMENTS, "loopCardinality")


def is_foreign(expression: str) -> bool:
    """Whether ``expression`` is EL or FEEL (a marked condition, ``${...}`` or ``=...`` text) rather
    than Python; neither ``$`` nor a leading ``=`` can start a Python expression."""
    return expression.startswith((EL_CONDITION, FEEL_CONDITION, EL_TEXT)) or expression.lstrip().startswith(
        ("${", "#{", "=")
    )


def is_el_text(source: str) -> bool:
    """Whether deploy-time checks should read ``source`` as EL: it starts with ``${``, or it holds
    ``${`` and is not Python (composite text such as ``approved is ${approved}``)."""
    if is_foreign(source):
        return True
    if not is_el(source):
        return False
    try:
        ast.parse(source.strip(), mode="eval")
    except SyntaxError:
        return True
    return False


def evaluate(expression: str, variables: Mapping[str, Any], sandbox: Sandbox) -> Any:
    """The value of an EL expression that ``is_foreign``, evaluated in ``sandbox``."""
    if expression.startswith(EL_CONDITION):
        return compile_el(expression[len(EL_CONDITION) :], condition=True).evaluate(variables, sandbox)
    if expression.startswith(FEEL_CONDITION):
        return compile_feel(expression[len(FEEL_CONDITION) :], condition=True).evaluate(variables, sandbox)
    if expression.startswith(EL_TEXT):
        return compile_el(expression[len(EL_TEXT) :]).evaluate(variables, sandbox)
    if is_feel(expression):
        return compile_feel(expression.strip()).evaluate(variables, sandbox)
    return compile_el(expression.strip()).evaluate(variables, sandbox)


def check(source: str, condition: bool, sandbox: Sandbox) -> str | None:
    """Why the EL text ``source`` cannot be used (a message naming it and what to write), or None."""
    try:
        if is_feel(source):
            sandbox.check(compile_feel(source, condition=condition).python, "eval")
        else:
            sandbox.check(compile_el(source, condition=condition).python, "eval")
    except (ELError, FeelError) as err:
        return f"expression `{source}`: {err.message}"
    except ScriptError as err:  # the sandbox refused the translation: never expected, still reported
        return f"expression `{source}` cannot run in the sandbox: {err.message}"
    return None


def prepare(root: Element, filename: str) -> list[Problem]:
    """Hand ``root``'s expressions to SpiffWorkflow in the form it runs (the tree is about to be
    parsed; the stored file is not changed); problems for what cannot be handed over.

    Conditions get ``EL_CONDITION`` / ``FEEL_CONDITION`` in front. ``camunda:collection`` names
    the variable holding a multi-instance collection, which SpiffWorkflow reads as a plain name:
    ``${items}`` becomes ``items``.
    """
    _mark_conditions(root)
    problems: list[Problem] = []
    for loop in iter_bpmn(root, "multiInstanceLoopCharacteristics"):
        collection = loop.get(_COLLECTION)
        if collection is None or not is_el(collection):
            continue
        match = _WHOLE_NAME.match(collection)
        if match is None:
            owner = loop.getparent()
            problems.append(
                Problem(
                    filename,
                    f"camunda:collection `{collection}` must name a variable, e.g. ${{items}}; compute "
                    "other collections into a variable first (a script task or an output mapping)",
                    loop.sourceline,
                    owner.get("id") if owner is not None else None,
                )
            )
            continue
        loop.set(_COLLECTION, match.group(1))
    return problems


_COLLECTION = q("collection", CAMUNDA_NS)
_WHOLE_NAME = re.compile(r"^\s*[$#]\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\s*$")


def _mark_conditions(root: Element) -> None:
    for element in iter_bpmn(root, *CONDITION_ELEMENTS):
        text = element.text
        if text and is_el(text) and text.lstrip().startswith(("${", "#{")):
            element.text = EL_CONDITION + text.strip()
        elif text and is_feel(text):
            element.text = FEEL_CONDITION + text.strip()
