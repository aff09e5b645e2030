"""The database a command-line tool writes through: migrated, with the audit trail's signer installed.

Every command that changes patient data (bootstrap an admin, load the demo, import FHIR) must chain and
checkpoint its audit entries exactly as the server does, so they open the database the same way.
"""

from __future__ import annotations

from carebridge.contexts.audit.ledger import AuditSigner, install
from carebridge.kernel.db import Database
from carebridge.kernel.keys import load_or_create_keys
from carebridge.kernel.migrate import upgrade
from carebridge.settings import Settings


def open_audited_database(settings: Settings, *, pool_size: int = 10) -> Database:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    keys = load_or_create_keys(settings)
    db = Database(settings.resolved_database_url, pool_size=pool_size)
    install(db.sessions, AuditSigner(keys.signing_key), checkpoint_every=settings.audit_checkpoint_every)
    return db
