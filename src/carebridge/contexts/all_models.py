"""Imports every context's tables so Alembic and the schema tests see the whole model."""

from carebridge.contexts.audit import models as audit_models
from carebridge.contexts.facilities import models as facilities_models
from carebridge.contexts.identity import models as identity_models
from carebridge.contexts.patients import models as patients_models
from carebridge.contexts.practitioners import models as practitioners_models
from carebridge.contexts.scheduling import models as scheduling_models
from carebridge.kernel import events as kernel_events

__all__ = ["audit_models", "facilities_models", "identity_models", "kernel_events", "patients_models",
           "practitioners_models", "scheduling_models"]
