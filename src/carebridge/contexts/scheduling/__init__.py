"""The scheduling context: availability rules, slot search, appointments, waitlist, queue tokens, calendar feeds.

Other contexts use what is listed here (e.g. the care-request flow books with `book`).
"""

from carebridge.contexts.scheduling.availability import create_rule, list_rules, search_slots
from carebridge.contexts.scheduling.booking import book, cancel, get_appointment, list_for_patient
from carebridge.contexts.scheduling.merge import move_scheduling  # importing it registers the merge handler
from carebridge.contexts.scheduling.queries import find_appointments, get_rule
from carebridge.contexts.scheduling.schemas import (
    AppointmentCreate,
    AppointmentRead,
    AppointmentStatus,
    AvailabilityRuleCreate,
    AvailabilityRuleRead,
    SlotPage,
    SlotRead,
)
from carebridge.contexts.scheduling.waitlist import sweep_holds

__all__ = [
    "AppointmentCreate",
    "AppointmentRead",
    "AppointmentStatus",
    "AvailabilityRuleCreate",
    "AvailabilityRuleRead",
    "SlotPage",
    "SlotRead",
    "book",
    "cancel",
    "create_rule",
    "find_appointments",
    "get_appointment",
    "get_rule",
    "list_for_patient",
    "list_rules",
    "move_scheduling",
    "search_slots",
    "sweep_holds",
]
