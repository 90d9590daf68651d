"""The grammar of one EL expression (the inside of ``${...}``), after the JUEL / Unified EL spec.

Operators, highest precedence first: ``[] .``, ``()``, unary ``- ! not empty``,
``* / div % mod``, ``+ -``, ``< > <= >= lt gt le ge``, ``== != eq ne``, ``&& and``, ``|| or``,
``? :``. Lark's LALR parser is iterative, so a deeply nested expression cannot exhaust the stack
while it is parsed; the translator bounds the depth it walks.
"""

from __future__ import annotations

from functools import cache

from lark import Lark

GRAMMAR = r"""
?start: ternary

?ternary: or_expr
        | or_expr "?" ternary ":" ternary          -> choice

?or_expr: and_expr
        | or_expr (OROR | OR) and_expr              -> or_

?and_expr: eq_expr
         | and_expr (ANDAND | AND) eq_expr          -> and_

?eq_expr: rel_expr
        | eq_expr (EQEQ | NOTEQ | EQ | NE) rel_expr -> compare

?rel_expr: add_expr
         | rel_expr (LE_SYM | GE_SYM | LT_SYM | GT_SYM | LE | GE | LT | GT) add_expr -> compare

?add_expr: mul_expr
         | add_expr (PLUS | MINUS) mul_expr         -> arith

?mul_expr: unary
         | mul_expr (STAR | SLASH | DIV | PERCENT | MOD) unary -> arith

?unary: value
      | MINUS unary                                -> neg
      | (BANG | NOT) unary                         -> not_
      | EMPTY unary                                -> empty

?value: atom
      | value "." NAME                             -> prop
      | value "[" ternary "]"                      -> index
      | value "." NAME "(" [args] ")"              -> method
      | NAME "(" [args] ")"                        -> function
      | QUALIFIED "(" [args] ")"                   -> function

args: ternary ("," ternary)*

?atom: INT                                         -> integer
     | FLOAT                                       -> floating
     | STRING                                      -> string
     | TRUE                                        -> true
     | FALSE                                       -> false
     | NULL                                        -> null
     | INSTANCEOF                                  -> reserved
     | NAME                                        -> var
     | "(" ternary ")"

OROR: "||"
OR: "or"
ANDAND: "&&"
AND: "and"
EQEQ: "=="
NOTEQ: "!="
EQ: "eq"
NE: "ne"
LE_SYM: "<="
GE_SYM: ">="
LT_SYM: "<"
GT_SYM: ">"
LE: "le"
GE: "ge"
LT: "lt"
GT: "gt"
PLUS: "+"
MINUS: "-"
STAR: "*"
SLASH: "/"
DIV: "div"
PERCENT: "%"
MOD: "mod"
BANG: "!"
NOT: "not"
EMPTY: "empty"
TRUE: "true"
FALSE: "false"
NULL: "null"
INSTANCEOF: "instanceof"

NAME: /(?!\d)[\w$]+/
QUALIFIED.2: /(?!\d)[\w$]+:(?!\d)[\w$]+(?=\s*\()/
FLOAT: /\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+/
INT: /\d+/
STRING: /'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/s

%ignore /\s+/
"""


@cache
def parser() -> Lark:
    """The LALR parser, built once per process (about 30 ms)."""
    return Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=True)
