"""The grammar of the FEEL subset Flowdesk runs (the text after ``=`` in a Camunda 8 attribute).

Literals (numbers, ``"strings"``, ``true``, ``false``, ``null``, lists ``[1, 2]``), names and paths
(``order.customer.name``), list items by literal position (``items[1]``, ``items[-1]``), ``+ - * /``,
unary ``-``, comparisons ``= != < <= > >=``, ``and``, ``or``, ``not(x)`` and
``if c then a else b``. Names are plain identifiers (FEEL names with spaces are not supported).
"""

from __future__ import annotations

from functools import cache

from lark import Lark

GRAMMAR = r"""
?start: expression

?expression: disjunction
           | IF expression THEN expression ELSE expression -> choice

?disjunction: conjunction
            | disjunction OR conjunction           -> or_

?conjunction: comparison
            | conjunction AND comparison           -> and_

?comparison: additive
           | additive COMPARE additive             -> compare

?additive: multiplicative
         | additive (PLUS | MINUS) multiplicative  -> arith

?multiplicative: unary
               | multiplicative (STAR | SLASH) unary -> arith

?unary: postfix
      | MINUS unary                                -> neg

?postfix: primary
        | postfix "." NAME                         -> path
        | postfix "[" expression "]"               -> index

?primary: NUMBER                                   -> number
        | STRING                                   -> string
        | TRUE                                     -> true
        | FALSE                                    -> false
        | NULL                                     -> null
        | NAME "(" [args] ")"                      -> function
        | NAME                                     -> var
        | "[" [args] "]"                           -> list_
        | "(" expression ")"

args: expression ("," expression)*

IF: "if"
THEN: "then"
ELSE: "else"
OR: "or"
AND: "and"
TRUE: "true"
FALSE: "false"
NULL: "null"
COMPARE: "<=" | ">=" | "!=" | "=" | "<" | ">"
PLUS: "+"
MINUS: "-"
STAR: "*"
SLASH: "/"
NAME: /(?!\d)\w+/
NUMBER: /\d+(?:\.\d+)?|\.\d+/
STRING: /"(?:[^"\\]|\\.)*"/s

%ignore /\s+/
"""


@cache
def parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=True)
