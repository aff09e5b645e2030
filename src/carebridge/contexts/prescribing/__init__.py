"""The prescribing context: the medicine picker, signed e-prescriptions with decision support, dispensing,
refill requests, the dose schedule and adherence. See docs/prescribing.md."""

from carebridge.contexts.prescribing.queries import DispenseEntry, get_dispense, list_dispenses, prescription_of_item
from carebridge.contexts.prescribing.schemas import OpenAlert, PrescriptionRead, RxStatus
from carebridge.contexts.prescribing.service import ChartAlerts, chart_alerts, get_prescription, list_for_patient

__all__ = ["ChartAlerts", "DispenseEntry", "OpenAlert", "PrescriptionRead", "RxStatus", "chart_alerts",
           "get_dispense", "get_prescription", "list_dispenses", "list_for_patient", "prescription_of_item"]
