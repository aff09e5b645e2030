"""The monitoring context: devices, vitals ingestion (HTTP batches and MQTT), early-warning alerts, live views.

Other contexts use `ingest_from_device` (the gateway's path) and `escalate_overdue` (a background job)."""

from carebridge.contexts.monitoring.queries import StoredReading, find_devices, find_readings, get_device, get_reading
from carebridge.contexts.monitoring.schemas import AlertRead, BatchReport, DeviceRead, News2Read
from carebridge.contexts.monitoring.service import escalate_overdue, ingest_from_device

__all__ = ["AlertRead", "BatchReport", "DeviceRead", "News2Read", "StoredReading", "escalate_overdue", "find_devices",
           "find_readings", "get_device", "get_reading", "ingest_from_device"]
