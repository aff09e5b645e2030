"""audit guards: seed the chain head, make the audit tables append-only

Revision ID: 0002
Revises: 0001
Written by hand (0001 is regenerated from the models; triggers and seed rows are not in models).

- Seeds `audit_head` (id 1, seq 0, genesis hash) so concurrent first appends only ever lock an
  existing row instead of racing to insert it.
- Triggers refuse UPDATE, DELETE (and on PostgreSQL TRUNCATE) on `audit_entries` and
  `audit_checkpoints`, and refuse any change to `audit_head` except moving it forward.

A database owner or superuser can drop these triggers; they stop mistakes, an application-level
bug or an injected statement, not an administrator. The hash chain and the signed checkpoints are
what detect an administrator's edits (docs/security.md). A later batch migration that rebuilds one
of these tables on SQLite drops its triggers: recreate them in that migration.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
APPEND_ONLY = ("audit_entries", "audit_checkpoints")

# The head may move forward (an append) or stay put with the same hash (a checkpoint resets its
# counter); anything else is a rewind or a rewrite.
HEAD_ALLOWED = "NEW.id = OLD.id AND (NEW.seq > OLD.seq OR (NEW.seq = OLD.seq AND NEW.hash = OLD.hash))"

PG_FUNCTIONS = [
    """
    CREATE OR REPLACE FUNCTION carebridge_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the audit trail is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION carebridge_audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND {HEAD_ALLOWED} THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'the audit head only moves forward: % on audit_head is not allowed', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
]


def upgrade() -> None:
    op.execute(
        sa.text("INSERT INTO audit_head (id, seq, hash, since_checkpoint) "
                "VALUES (1, 0, :genesis, 0) ON CONFLICT (id) DO NOTHING").bindparams(genesis=GENESIS)
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for sql in PG_FUNCTIONS:
            op.execute(sql)
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION carebridge_audit_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION carebridge_audit_append_only()")
        op.execute("CREATE TRIGGER audit_head_forward_only BEFORE UPDATE OR DELETE ON audit_head "
                   "FOR EACH ROW EXECUTE FUNCTION carebridge_audit_head_forward_only()")
        op.execute("CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
                   "FOR EACH STATEMENT EXECUTE FUNCTION carebridge_audit_append_only()")
    elif dialect == "sqlite":
        for table in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN "
                    f"SELECT RAISE(ABORT, 'the audit trail is append-only: {verb} on {table} is not allowed'); END"
                )
        op.execute(
            f"CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head WHEN NOT ({HEAD_ALLOWED}) BEGIN "
            "SELECT RAISE(ABORT, 'the audit head only moves forward: UPDATE on audit_head is not allowed'); END"
        )
        op.execute(
            "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head BEGIN "
            "SELECT RAISE(ABORT, 'the audit head only moves forward: DELETE on audit_head is not allowed'); END"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER IF EXISTS audit_head_forward_only ON audit_head")
        op.execute("DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_head")
        op.execute("DROP FUNCTION IF EXISTS carebridge_audit_head_forward_only()")
        op.execute("DROP FUNCTION IF EXISTS carebridge_audit_append_only()")
    elif dialect == "sqlite":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        op.execute("DROP TRIGGER IF EXISTS audit_head_forward_only")
        op.execute("DROP TRIGGER IF EXISTS audit_head_no_delete")
