"""create_app(): assembles settings, database, keys, middleware and every context's routers. No logic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from carebridge import __version__
from carebridge.contexts.audit import service as audit_service
from carebridge.contexts.audit.api import router as audit_router
from carebridge.contexts.care.api import compat_router as care_compat_router
from carebridge.contexts.care.api import router as care_router
from carebridge.contexts.care.purge_job import PurgeJob
from carebridge.contexts.consent import configure as configure_consent
from carebridge.contexts.consent.api import router as consent_router
from carebridge.contexts.documents.api import UPLOAD_PATH_PATTERN as DOCUMENT_UPLOAD_PATHS
from carebridge.contexts.documents.api import router as documents_router
from carebridge.contexts.documents.web import UPLOAD_PAGE_PATTERN as DOCUMENT_UPLOAD_PAGES
from carebridge.contexts.emergency.api import key_router as emergency_key_router
from carebridge.contexts.emergency.api import router as emergency_router
from carebridge.contexts.events.api import router as events_router
from carebridge.contexts.facilities.api import IMPORT_PATH as FACILITY_IMPORT_PATH
from carebridge.contexts.facilities.api import router as facilities_router
from carebridge.contexts.facilities.web import IMPORT_PAGE_PATH as FACILITY_IMPORT_PAGE
from carebridge.contexts.identity.api import router as identity_router
from carebridge.contexts.integrations.api import router as integrations_router
from carebridge.contexts.monitoring.api import router as monitoring_router
from carebridge.contexts.monitoring.gateway import MqttGateway
from carebridge.contexts.monitoring.jobs import MonitoringJob, Retention
from carebridge.contexts.notifications.api import router as notifications_router
from carebridge.contexts.notifications.config import delivery_from
from carebridge.contexts.notifications.worker import NotificationWorker
from carebridge.contexts.patients.api import router as patients_router
from carebridge.contexts.practitioners.api import router as practitioners_router
from carebridge.contexts.prescribing.api import router as prescribing_router
from carebridge.contexts.prescribing.jobs import PrescribingJobs
from carebridge.contexts.prescribing.reactions import RecheckJob
from carebridge.contexts.records.api import router as records_router
from carebridge.contexts.scheduling.api import router as scheduling_router
from carebridge.engines.interactions import preload as preload_knowledge
from carebridge.fhir.api import router as fhir_router
from carebridge.fhir.api import well_known as fhir_well_known
from carebridge.fhir.bulk import ExportWorker
from carebridge.fhir.bulk import router as fhir_bulk_router
from carebridge.fhir.smart import router as fhir_smart_router
from carebridge.kernel import health
from carebridge.kernel.bus import make_bus
from carebridge.kernel.clock import Clock, SystemClock
from carebridge.kernel.db import Database
from carebridge.kernel.errors import install_error_handlers
from carebridge.kernel.keys import load_or_create_keys
from carebridge.kernel.migrate import head_revision
from carebridge.kernel.observability import Metrics, RequestMiddleware, configure_logging
from carebridge.kernel.relay import OutboxRelay
from carebridge.settings import Settings, get_settings
from carebridge.web.app import mount_web

API_DESCRIPTION = """CareBridge REST API. Errors are RFC 9457 `application/problem+json`.
Authenticate with `POST /api/v1/auth/login` and send `Authorization: Bearer <access_token>`."""


def create_app(settings: Settings | None = None, *, database: Database | None = None,
               clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, json_logs=settings.log_json)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keys = load_or_create_keys(settings)
    db = database or Database(settings.resolved_database_url)
    clock = clock or SystemClock()
    configure_consent(settings.consent_default_categories)  # what treating organizations read by default
    audit_service.install(db.sessions, audit_service.AuditSigner(keys.signing_key),
                          checkpoint_every=settings.audit_checkpoint_every, clock=clock)

    bus = make_bus(settings.event_bus, nats_url=settings.nats_url, kafka_bootstrap=settings.kafka_bootstrap)
    # a test database is one shared connection: its tests run the relay themselves (`OutboxRelay.run_once`)
    relay = (OutboxRelay(db, bus, clock=clock, poll_seconds=settings.event_relay_poll_seconds,
                         retention_days=settings.event_retention_days)
             if settings.event_relay and not db.bound else None)
    # MQTT device ingestion (monitoring): only when a broker is configured
    gateway = MqttGateway(db, clock, settings.mqtt_url) if settings.mqtt_url and not db.bound else None
    # the notification worker delivers the outbox (tests drive `NotificationWorker.run_once` themselves)
    notifier = (NotificationWorker(db, delivery_from(settings), clock=clock,
                                   poll_seconds=settings.notifications_poll_seconds)
                if settings.notifications_worker and not db.bound else None)
    purger = PurgeJob(db, clock) if not db.bound else None  # unsaved care requests past their TTL
    # escalation of unacknowledged alerts, vitals rollups, PostgreSQL partitions and retention (monitoring)
    monitor = (MonitoringJob(db, clock, every_seconds=settings.monitoring_job_seconds, keep=Retention(
        settings.monitoring_raw_retention_days, settings.monitoring_minute_rollup_retention_days,
        settings.monitoring_hour_rollup_retention_days)) if settings.monitoring_jobs and not db.bound else None)
    rechecker = RecheckJob(db, clock) if not db.bound else None  # prescriptions re-checked on record events
    exporter = ExportWorker(db, clock) if not db.bound else None  # FHIR Bulk Data $export jobs
    # hourly: expire prescriptions past their validity, keep a week of dose reminders queued
    rx_jobs = PrescribingJobs(db, clock, secret=keys.token_secret) if not db.bound else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        preload_knowledge()  # prescribing's knowledge base built now, then gc.freeze(): no GC walk over it later
        await bus.start()
        if relay is not None:
            relay.start()
        if gateway is not None:
            gateway.start()
        if notifier is not None:
            notifier.start()
        if purger is not None:
            purger.start()
        if monitor is not None:
            monitor.start()
        if rechecker is not None:
            rechecker.start()
        if rx_jobs is not None:
            rx_jobs.start()
        if exporter is not None:
            exporter.start()
        yield
        if exporter is not None:
            await exporter.stop()
        if rx_jobs is not None:
            await rx_jobs.stop()
        if rechecker is not None:
            await rechecker.stop()
        if monitor is not None:
            await monitor.stop()
        if purger is not None:
            await purger.stop()
        if notifier is not None:
            await notifier.stop()
        if gateway is not None:
            gateway.stop()
        if relay is not None:
            await relay.stop()
        await bus.close()
        with db.transaction() as session:
            audit_service.checkpoint_now(session, audit_service.AuditSigner(keys.signing_key))
        if database is None:
            db.dispose()

    app = FastAPI(title="CareBridge", version=__version__, description=API_DESCRIPTION, lifespan=lifespan,
                  openapi_url="/openapi.json", docs_url="/docs", redoc_url=None)
    app.state.settings = settings
    app.state.database = db
    app.state.clock = clock
    app.state.keys = keys
    app.state.bus = bus
    app.state.relay = relay
    app.state.fhir_exporter = exporter
    app.state.metrics = Metrics()
    app.state.migration_head = head_revision(db.url)
    install_error_handlers(app)
    app.add_middleware(RequestMiddleware, metrics=app.state.metrics, max_body_bytes=settings.max_body_bytes,
                       log_requests=settings.access_log,
                       path_body_limits={FACILITY_IMPORT_PATH: settings.facility_import_max_bytes + 64 * 1024,
                                         FACILITY_IMPORT_PAGE: settings.facility_import_max_bytes + 64 * 1024},
                       path_pattern_limits=[(DOCUMENT_UPLOAD_PATHS, settings.document_max_bytes + 64 * 1024),
                                            (DOCUMENT_UPLOAD_PAGES, settings.document_max_bytes + 64 * 1024)])
    app.include_router(health.router)
    app.include_router(identity_router)
    app.include_router(patients_router)
    app.include_router(practitioners_router)
    app.include_router(audit_router)
    app.include_router(facilities_router)
    app.include_router(scheduling_router)
    app.include_router(records_router)
    app.include_router(documents_router)
    app.include_router(prescribing_router)
    app.include_router(events_router)
    app.include_router(care_router)
    app.include_router(care_compat_router)
    app.include_router(integrations_router)
    app.include_router(monitoring_router)
    app.include_router(emergency_router)
    app.include_router(emergency_key_router)
    app.include_router(notifications_router)
    app.include_router(consent_router)
    app.include_router(fhir_bulk_router)  # before the FHIR router: `/Patient/$export` is not a read of id $export
    app.include_router(fhir_router)
    app.include_router(fhir_well_known)
    app.include_router(fhir_smart_router)
    mount_web(app)
    return app


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory` (several workers import it by name)."""
    return create_app()
