"""Imports every context's tables so Alembic and the schema tests see the whole model."""

from carebridge.contexts.audit import models as audit_models
from carebridge.contexts.care import models as care_models
from carebridge.contexts.consent import models as consent_models
from carebridge.contexts.documents import models as documents_models
from carebridge.contexts.emergency import models as emergency_models
from carebridge.contexts.facilities import models as facilities_models
from carebridge.contexts.identity import models as identity_models
from carebridge.contexts.integrations import models as integrations_models
from carebridge.contexts.monitoring import models as monitoring_models
from carebridge.contexts.notifications import models as notifications_models
from carebridge.contexts.patients import models as patients_models
from carebridge.contexts.practitioners import models as practitioners_models
from carebridge.contexts.prescribing import models as prescribing_models
from carebridge.contexts.records import models as records_models
from carebridge.contexts.scheduling import models as scheduling_models
from carebridge.fhir import bulk_state as fhir_bulk_state
from carebridge.fhir import import_state as fhir_import_state
from carebridge.fhir import models as fhir_models
from carebridge.kernel import events as kernel_events

__all__ = ["audit_models", "care_models", "consent_models", "documents_models",
           "emergency_models", "facilities_models", "fhir_bulk_state",
           "fhir_import_state", "fhir_models", "identity_models", "integrations_models",
           "kernel_events", "monitoring_models", "notifications_models", "patients_models",
           "practitioners_models", "prescribing_models", "records_models", "scheduling_models"]
