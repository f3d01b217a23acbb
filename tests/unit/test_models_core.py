"""``models_core`` stands alone: a process that imported only it (the light CLI commands) has
every table its foreign keys point at, and ``models`` still re-exports the very same classes."""

from __future__ import annotations

import json
import subprocess
import sys

from dialgate.adapters.db import models, models_core

_PROBE = """
import json, sys
from sqlalchemy.orm import configure_mappers
from dialgate.adapters.db.models_core import Base
configure_mappers()
targets = sorted({fk.column.table.name for t in Base.metadata.tables.values()
                  for fk in t.foreign_keys})
print(json.dumps({"tables": sorted(Base.metadata.tables), "targets": targets,
                  "models": "dialgate.adapters.db.models" in sys.modules}))
"""


def test_core_tables_reference_only_core_tables_in_a_process_of_their_own() -> None:
    proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["models"] is False
    assert found["targets"], "no foreign key was checked"
    assert set(found["targets"]) <= set(found["tables"])
    core_tables = {cls.__tablename__ for cls in vars(models_core).values()
                   if isinstance(cls, type) and issubclass(cls, models_core.Base)
                   and cls is not models_core.Base}
    assert set(found["tables"]) == core_tables


def test_models_reexports_every_core_class_itself() -> None:
    for name, value in vars(models_core).items():
        if isinstance(value, type) and issubclass(value, models_core.Base):
            assert getattr(models, name) is value, name
    assert models.Base is models_core.Base
    # and the whole schema is one metadata: the core tables plus the rest
    assert set(models.Base.metadata.tables) > {"accounts", "cdrs", "rate_decks", "outbox"}
