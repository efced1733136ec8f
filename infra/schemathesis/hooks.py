"""Schemathesis hooks of the contract tests (loaded by infra/testing/schemathesis.ts).

Our OpenAPI documents state a constraint JSON Schema cannot: a time range whose `to` must come
after its `from`, and at most so many days after it. An operation carries it as

    "x-tollgate-range": {"from": "from", "to": "to", "maxDays": 400}

(generated from the same constants the service validates with). A positive test case, one the
generator believes valid, that breaks it is not valid: it is dropped rather than sent and then
reported as "valid data rejected". Negative cases are sent as generated.
"""

from datetime import datetime

import schemathesis
from schemathesis.generation import GenerationMode


def _instant(value):
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@schemathesis.hook
def filter_case(ctx, case):
    operation = ctx.operation
    rule = operation.definition.raw.get("x-tollgate-range") if operation is not None else None
    meta = case.meta
    if rule is None or meta is None or meta.generation.mode != GenerationMode.POSITIVE:
        return True
    query = case.query or {}
    start, end = _instant(query.get(rule["from"])), _instant(query.get(rule["to"]))
    if start is None or end is None:
        return True
    if end <= start:
        return False
    max_days = rule.get("maxDays")
    return max_days is None or (end - start).total_seconds() <= max_days * 86400
