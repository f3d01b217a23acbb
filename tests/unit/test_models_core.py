"""``tables`` stands alone: a process that imported only it (the light CLI commands) has every
table its foreign keys point at without loading the ORM; ``models_core`` maps its row classes
onto those very tables, and ``models`` re-exports them with the rest of the schema."""

from __future__ import annotations

import json
import subprocess
import sys

from dialgate.adapters.db import models, models_core, tables

_PROBE = """
import json, sys
from dialgate.adapters.db.tables import metadata
targets = sorted({fk.column.table.name for t in metadata.tables.values()
                  for fk in t.foreign_keys})
print(json.dumps({"tables": sorted(metadata.tables), "targets": targets,
                  "orm": "sqlalchemy.orm" in sys.modules,
                  "models": "dialgate.adapters.db.models_core" in sys.modules}))
"""


def _row_classes() -> dict[str, type[models_core.Base]]:
    return {name: cls for name, cls in vars(models_core).items()
            if isinstance(cls, type) and issubclass(cls, models_core.Base)
            and cls is not models_core.Base}


def test_core_tables_reference_only_core_tables_in_a_process_of_their_own() -> None:
    proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["orm"] is False
    assert found["models"] is False
    assert found["targets"], "no foreign key was checked"
    assert set(found["targets"]) <= set(found["tables"])
    mapped = {cls.__table__.name for cls in _row_classes().values()}  # type: ignore[attr-defined]
    assert set(found["tables"]) == mapped


def test_each_row_class_is_mapped_onto_its_core_table_and_names_every_column() -> None:
    for name, cls in _row_classes().items():
        table = cls.__table__  # type: ignore[attr-defined]
        assert tables.metadata.tables[table.name] is table, name
        # the annotations (for typing) name exactly the table's columns, by key
        assert set(cls.__annotations__) == set(table.c.keys()), name


def test_models_reexports_every_core_class_itself() -> None:
    for name, value in _row_classes().items():
        assert getattr(models, name) is value, name
    assert models.Base is models_core.Base
    # and the whole schema is one metadata: the core tables plus the rest
    assert models.Base.metadata is tables.metadata
    assert set(models.Base.metadata.tables) > {"accounts", "cdrs", "rate_decks", "outbox"}
