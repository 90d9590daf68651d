"""FEEL (Camunda 8's expression language), the common subset, translated to sandboxed Python.

``compile_feel(text)`` reads Camunda 8 attribute text: ``=expr`` is FEEL, anything else a static
value. See docs/expressions.md for what is supported.
"""

from engine.feel.compiler import CompiledFeel, compile_feel, is_feel
from engine.feel.errors import FeelError

__all__ = ["CompiledFeel", "FeelError", "compile_feel", "is_feel"]
