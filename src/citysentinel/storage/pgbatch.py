"""PostgreSQL batch statements: a whole batch as one JSON array parameter.

psycopg re-parses (and never prepares) any statement with more than 50
parameters, and for a 200-event multi-row VALUES list that parse cost as much
client CPU as the rest of the request. With one `rows` parameter the statement
text is fixed, so psycopg caches and prepares it; `json_to_recordset` unpacks
it on the server, ordered by position so sequence values follow the batch.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Integer, Text, bindparam, cast, column, func, select
from sqlalchemy.dialects import postgresql

from citysentinel.storage.tables import events, incident_changes, incident_events, incidents


def _recordset_insert(table: Any, names: list[str]) -> Any:
    """INSERT INTO table the rows of one JSON array parameter `rows`, in array order."""
    cols = [column(n, table.c[n].type) for n in names] + [column("n", Integer)]
    rows = func.json_to_recordset(cast(bindparam("rows", type_=Text), JSON))
    source = rows.table_valued(*cols).render_derived(with_types=True)
    # Ordered by position so sequence values follow the batch order.
    picked = select(*[source.c[n] for n in names]).order_by(source.c.n)
    return postgresql.insert(table).from_select(names, picked)


def recordset(rows: list[dict[str, Any]]) -> str:
    """The `rows` parameter: the rows as a JSON array, each with its position `n`."""
    return json.dumps([{**r, "n": i} for i, r in enumerate(rows)], default=_json_value)


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to storage; use timezone-aware UTC")
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


# ON CONFLICT DO NOTHING makes the id check part of the insert (one round trip, no race).
_EVENT_COLUMNS = [c.name for c in events.columns if c.name != "seq"]
PG_INSERT_EVENTS = (
    _recordset_insert(events, _EVENT_COLUMNS)
    .on_conflict_do_nothing(index_elements=["id"])
    .returning(events.c.seq, events.c.id)
)
PG_INSERT_LINKS = _recordset_insert(
    incident_events, [c.name for c in incident_events.columns]
).on_conflict_do_nothing()
PG_INSERT_CHANGES = _recordset_insert(
    incident_changes, [c.name for c in incident_changes.columns if c.name != "seq"]
).returning(incident_changes.c.seq)


def _pg_upsert_incidents() -> Any:
    names = [c.name for c in incidents.columns]
    stmt = _recordset_insert(incidents, names)
    return stmt.on_conflict_do_update(
        index_elements=["id"], set_={n: stmt.excluded[n] for n in names if n != "id"}
    )


PG_UPSERT_INCIDENTS = _pg_upsert_incidents()
