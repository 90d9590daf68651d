"""Cost of the sandbox against plain eval/exec: µs per operation, median of several runs.

Run: .venv/bin/python bench/bench_sandbox.py
"""

from __future__ import annotations

import statistics
import sys
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.sandbox import Sandbox

EXPRESSION = "amount > 1000"
PRODUCT = "price * quantity"
COMPREHENSION = "sum(line['qty'] * line['price'] for line in lines)"
SCRIPT = "total = price * quantity\nvat = total * 0.2\nlabel = f'{customer} owes {total + vat}'"


def per_op(statement: Any, number: int) -> float:
    runs = timeit.repeat(statement, number=number, repeat=7)
    return statistics.median(runs) / number * 1e6


def main() -> None:
    sandbox = Sandbox()
    data: dict[str, Any] = {"amount": 1500, "price": 12, "quantity": 3, "customer": "ACME",
                            "lines": [{"qty": 2, "price": 5}, {"qty": 1, "price": 7}]}
    data.update({f"field{i}": i for i in range(30)})  # task data is rarely tiny
    n = 100_000
    rows = []
    for label, source in (("simple comparison", EXPRESSION), ("product", PRODUCT),
                          ("generator expression", COMPREHENSION)):
        code = compile(source, "<bench>", "eval")
        rows.append((f"{label}: eval(str)", per_op(lambda s=source: eval(s, dict(data)), n // 10)))
        rows.append((f"{label}: eval(code)", per_op(lambda c=code: eval(c, data), n)))
        rows.append((f"{label}: sandbox.evaluate", per_op(lambda s=source: sandbox.evaluate(s, data), n)))
    code = compile(SCRIPT, "<bench>", "exec")
    rows.append(("3-line script: exec(code) on a copy", per_op(lambda: exec(code, dict(data)), n)))
    rows.append(("3-line script: sandbox.execute", per_op(lambda: sandbox.execute(SCRIPT, dict(data)), n)))
    width = max(len(label) for label, _ in rows)
    for label, micros in rows:
        print(f"{label:<{width}}  {micros:8.2f} µs/op")


if __name__ == "__main__":
    main()
