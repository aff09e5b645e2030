"""When two patient records are merged, the duplicate's monitoring rows move to the survivor: devices, raw
readings, alerts, threshold rules (the survivor's own rule for a type wins) and rollups (a bucket both records
have is merged: count, sum, min and max combine exactly, so no rebuild from raw readings is needed)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, delete, select, update
from sqlalchemy.orm import Session, aliased

from carebridge.contexts import patients
from carebridge.contexts.monitoring import rollups
from carebridge.contexts.monitoring.models import Alert, Device, RollupPending, ThresholdRule, VitalReading, VitalRollup


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _merge_rollups(session: Session, source_id: uuid.UUID, target_id: uuid.UUID) -> int:
    theirs = aliased(VitalRollup)
    both = session.execute(
        select(VitalRollup.type, VitalRollup.width, VitalRollup.bucket_start, VitalRollup.count, VitalRollup.sum,
               VitalRollup.min, VitalRollup.max, theirs.count, theirs.sum, theirs.min, theirs.max)
        .join(theirs, and_(theirs.patient_id == target_id, theirs.type == VitalRollup.type,
                           theirs.width == VitalRollup.width, theirs.bucket_start == VitalRollup.bucket_start))
        .where(VitalRollup.patient_id == source_id)).tuples().all()
    for kind, width, start, n, total, low, high, n2, total2, low2, high2 in both:
        session.execute(update(VitalRollup).where(
            VitalRollup.patient_id == target_id, VitalRollup.type == kind, VitalRollup.width == width,
            VitalRollup.bucket_start == start).values(count=n + n2, sum=total + total2, min=min(low, low2),
                                                      max=max(high, high2)))
        session.execute(delete(VitalRollup).where(
            VitalRollup.patient_id == source_id, VitalRollup.type == kind, VitalRollup.width == width,
            VitalRollup.bucket_start == start))
    moved = session.execute(update(VitalRollup).where(VitalRollup.patient_id == source_id)
                            .values(patient_id=target_id).execution_options(synchronize_session=False))
    return len(both) + _count(moved)


@patients.on_patient_merged("monitoring")
def move_monitoring(session: Session, *, source_id: uuid.UUID, target_id: uuid.UUID,
                    now: datetime) -> dict[str, int]:
    moved: dict[str, int] = {}
    kept_types = select(ThresholdRule.type).where(ThresholdRule.patient_id == target_id).scalar_subquery()
    session.execute(delete(ThresholdRule).where(ThresholdRule.patient_id == source_id,
                                                ThresholdRule.type.in_(kept_types))
                    .execution_options(synchronize_session=False))
    for name, model in (("monitoring_devices", Device), ("vital_readings", VitalReading),
                        ("monitoring_alerts", Alert), ("monitoring_threshold_rules", ThresholdRule)):
        count = _count(session.execute(update(model).where(model.patient_id == source_id)
                                       .values(patient_id=target_id).execution_options(synchronize_session=False)))
        if count:  # only what moved goes into the survivor's audit entry
            moved[name] = count
    hours = list(session.scalars(select(RollupPending.hour_start).where(RollupPending.patient_id == source_id)))
    if hours:  # hours still to roll up now belong to the survivor
        session.execute(delete(RollupPending).where(RollupPending.patient_id == source_id))
        rollups.mark_pending(session, target_id, hours)
    count = _merge_rollups(session, source_id, target_id)
    if count:
        moved["vital_rollups"] = count
    return moved
