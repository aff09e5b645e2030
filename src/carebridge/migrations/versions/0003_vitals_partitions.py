"""vitals partitions: on PostgreSQL, `vital_readings` becomes a table partitioned by day on `observed_at`

Revision ID: 0003
Revises: 0002
Written by hand (0001 is regenerated from the models; partitioning is PostgreSQL DDL the models cannot say).

- SQLite: nothing (a plain table; the retention job deletes old rows).
- PostgreSQL with the TimescaleDB extension available: `vital_readings` becomes a hypertable (1-day chunks); its
  primary key becomes (id, observed_at) since every unique index must hold the time column.
- PostgreSQL otherwise: declarative range partitioning by day. The parent keeps the names the models use
  (primary key now (id, observed_at), the unique (device, time, type) index, the patient/type/time index, the
  foreign keys), so the models-and-migrations test still compares equal. The partitions live in the schema
  `vital_partitions` (like TimescaleDB's chunks in their own schema), one per UTC day, named
  `vital_readings_pYYYYMMDD`, plus `vital_readings_default` for rows of a day with no partition yet. The
  monitoring job (contexts/monitoring/partitions.py) creates the days ahead, moves rows out of the default
  partition into their day, and drops whole days past the raw retention.

Existing rows are copied into the new table, so this is safe on a database that already holds readings.
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "vital_partitions"
COLUMNS = "id, patient_id, device_id, type, observed_at, value, unit, spo2_scale, received_at"


def _constraints() -> None:
    op.execute("ALTER TABLE vital_readings ADD CONSTRAINT pk_vital_readings PRIMARY KEY (id, observed_at)")
    op.execute("ALTER TABLE vital_readings ADD CONSTRAINT uq_vital_readings_device_time_type "
               "UNIQUE (device_id, observed_at, type)")
    op.execute("ALTER TABLE vital_readings ADD CONSTRAINT fk_vital_readings_device_id_monitoring_devices "
               "FOREIGN KEY (device_id) REFERENCES monitoring_devices (id)")
    op.execute("ALTER TABLE vital_readings ADD CONSTRAINT fk_vital_readings_patient_id_patients "
               "FOREIGN KEY (patient_id) REFERENCES patients (id)")
    op.execute("CREATE INDEX ix_vital_readings_patient_type_time ON vital_readings (patient_id, type, observed_at)")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    timescale = bind.exec_driver_sql(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").first() is not None
    if timescale:
        op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        op.execute("ALTER TABLE vital_readings DROP CONSTRAINT pk_vital_readings")
        op.execute("ALTER TABLE vital_readings ADD CONSTRAINT pk_vital_readings PRIMARY KEY (id, observed_at)")
        op.execute("SELECT create_hypertable('vital_readings', 'observed_at', chunk_time_interval => "
                   "INTERVAL '1 day', migrate_data => true)")
        return
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    op.execute("ALTER TABLE vital_readings RENAME TO vital_readings_unpartitioned")
    op.execute("CREATE TABLE vital_readings (LIKE vital_readings_unpartitioned INCLUDING DEFAULTS) "
               "PARTITION BY RANGE (observed_at)")
    op.execute(f"CREATE TABLE {SCHEMA}.vital_readings_default PARTITION OF vital_readings DEFAULT")
    op.execute(f"INSERT INTO vital_readings ({COLUMNS}) SELECT {COLUMNS} FROM vital_readings_unpartitioned")  # noqa: S608 (constants)
    op.execute("ALTER SEQUENCE vital_readings_id_seq OWNED BY vital_readings.id")
    op.execute("DROP TABLE vital_readings_unpartitioned")
    _constraints()


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").first() is not None:
        raise RuntimeError("turning a hypertable back into a plain table is not automated; copy the data out first")
    op.execute("ALTER TABLE vital_readings RENAME TO vital_readings_partitioned")
    for name in ("pk_vital_readings", "uq_vital_readings_device_time_type"):
        op.execute(f"ALTER TABLE vital_readings_partitioned DROP CONSTRAINT {name}")
    op.execute("DROP INDEX ix_vital_readings_patient_type_time")
    op.execute("CREATE TABLE vital_readings (LIKE vital_readings_partitioned INCLUDING DEFAULTS)")
    op.execute(f"INSERT INTO vital_readings ({COLUMNS}) SELECT {COLUMNS} FROM vital_readings_partitioned")  # noqa: S608 (constants)
    op.execute("ALTER SEQUENCE vital_readings_id_seq OWNED BY vital_readings.id")
    op.execute("DROP TABLE vital_readings_partitioned CASCADE")
    op.execute("ALTER TABLE vital_readings ADD CONSTRAINT pk_vital_readings PRIMARY KEY (id)")
    op.execute("ALTER TABLE vital_readings ADD CONSTRAINT uq_vital_readings_device_time_type "
               "UNIQUE (device_id, observed_at, type)")
    op.execute("ALTER TABLE vital_readings ADD CONSTRAINT fk_vital_readings_device_id_monitoring_devices "
               "FOREIGN KEY (device_id) REFERENCES monitoring_devices (id)")
    op.execute("ALTER TABLE vital_readings ADD CONSTRAINT fk_vital_readings_patient_id_patients "
               "FOREIGN KEY (patient_id) REFERENCES patients (id)")
    op.execute("CREATE INDEX ix_vital_readings_patient_type_time ON vital_readings (patient_id, type, observed_at)")
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
