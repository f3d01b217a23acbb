"""forwardings: call forwarding entries that customers manage (VoIP.ms getForwardings)

Revision ID: 0005
Revises: 0004

Until now a forward was a ``routing_targets`` row of kind ``fwd`` holding only a number. Each
becomes a ``forwardings`` row; its id is the new ``fwd:<id>`` reference, so the DIDs and the
Default DID Routing settings that pointed at the old per-account ref are rewritten to it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ROUTING_COLUMNS = ("routing", "failover_busy", "failover_unreachable", "failover_noanswer")
ROUTING_SETTINGS = (
    "did_routing", "did_failover_busy", "did_failover_unreachable", "did_failover_noanswer"
)

routing_targets = sa.table(
    "routing_targets",
    sa.column("id", sa.Integer), sa.column("account_id", sa.Integer),
    sa.column("kind", sa.String), sa.column("ref", sa.String), sa.column("name", sa.String),
    sa.column("data", sa.JSON),
)
forwardings = sa.table(
    "forwardings",
    sa.column("id", sa.Integer), sa.column("account_id", sa.Integer),
    sa.column("phone_number", sa.String), sa.column("description", sa.String),
    sa.column("callerid_override", sa.String), sa.column("dtmf_digits", sa.String),
    sa.column("pause", sa.Numeric), sa.column("diversion_header", sa.Boolean),
)
dids = sa.table(
    "dids", sa.column("id", sa.Integer), sa.column("account_id", sa.Integer),
    *(sa.column(c, sa.String) for c in ROUTING_COLUMNS),
)
accounts = sa.table("accounts", sa.column("id", sa.Integer), sa.column("settings", sa.JSON))
subaccounts = sa.table(
    "subaccounts", sa.column("id", sa.Integer), sa.column("account_id", sa.Integer),
    sa.column("settings", sa.JSON),
)


def upgrade() -> None:
    op.create_table(
        "forwardings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("phone_number", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(length=64), nullable=False),
        sa.Column("callerid_override", sa.String(length=20), nullable=False),
        sa.Column("dtmf_digits", sa.String(length=32), nullable=False),
        sa.Column("pause", sa.Numeric(precision=3, scale=1), nullable=False),
        sa.Column("diversion_header", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("forwardings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_forwardings_account_id"), ["account_id"])
    conn = op.get_bind()
    legacy = conn.execute(
        sa.select(routing_targets).where(routing_targets.c.kind == "fwd")
    ).all()
    # account id -> {"fwd:<old ref>": "fwd:<new id>"}
    renames: dict[int, dict[str, str]] = {}
    for row in legacy:
        number = str((row.data or {}).get("number", ""))
        new_id = conn.execute(
            sa.insert(forwardings).values(
                account_id=row.account_id, phone_number=number, description=row.name or "",
                callerid_override="", dtmf_digits="", pause=0, diversion_header=False,
            ).returning(forwardings.c.id)
        ).scalar_one()
        renames.setdefault(row.account_id, {})[f"fwd:{row.ref}"] = f"fwd:{new_id}"
    for account_id, names in renames.items():
        _rewrite(conn, account_id, names)
    conn.execute(sa.delete(routing_targets).where(routing_targets.c.kind == "fwd"))


def _rewrite(conn: sa.Connection, account_id: int, names: dict[str, str]) -> None:
    """Point the account's DIDs and Default DID Routing settings at the new references."""
    for did in conn.execute(sa.select(dids).where(dids.c.account_id == account_id)).all():
        changes = {c: names[getattr(did, c)] for c in ROUTING_COLUMNS if getattr(did, c) in names}
        if changes:
            conn.execute(sa.update(dids).where(dids.c.id == did.id).values(**changes))
    for table, key in ((accounts, accounts.c.id), (subaccounts, subaccounts.c.account_id)):
        for row in conn.execute(sa.select(table).where(key == account_id)).all():
            settings: dict[str, Any] = dict(row.settings or {})
            changed = {k: names[v] for k in ROUTING_SETTINGS if (v := settings.get(k)) in names}
            if changed:
                conn.execute(
                    sa.update(table).where(table.c.id == row.id)
                    .values(settings={**settings, **changed})
                )


def downgrade() -> None:
    # Back to routing targets; the ref is the forwarding's id, so references stay valid. The
    # fields routing targets cannot hold (caller ID override, DTMF, pause) are lost.
    conn = op.get_bind()
    for row in conn.execute(sa.select(forwardings)).all():
        conn.execute(
            sa.insert(routing_targets).values(
                account_id=row.account_id, kind="fwd", ref=str(row.id),
                name=row.description[:64], data={"number": row.phone_number},
            )
        )
    with op.batch_alter_table("forwardings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_forwardings_account_id"))
    op.drop_table("forwardings")
