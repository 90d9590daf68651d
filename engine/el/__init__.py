"""Camunda 7 expression language (JUEL / Unified EL) for BPMN files, run in the sandbox.

``compile_el(text)`` parses and checks ``${...}`` text once (cached) and translates it to a Python
expression over an ``el`` helper object; ``CompiledExpression.evaluate(variables, sandbox)`` runs it.
Every problem is an ``ELError`` whose message says what to write instead, with the column in
``position`` when it is a syntax or support problem found before running. See docs/expressions.md.
"""

from engine.el.compiler import CompiledExpression, compile_el, is_el, is_single_expression, translate
from engine.el.errors import ELError
from engine.el.translator import METHODS

__all__ = [
    "METHODS",
    "CompiledExpression",
    "ELError",
    "compile_el",
    "is_el",
    "is_single_expression",
    "translate",
]
