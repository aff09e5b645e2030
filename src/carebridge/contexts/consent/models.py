"""Consent directives: a patient's grants and restrictions, and clinicians' break-glass openings.

One table for all three kinds so the access policy reads every directive that may concern a caller in one
indexed query (`patient_id`, then only the live rows). A directive is never deleted: revoking stamps
`revoked_at`, so the patient's history of who could see their record stays whole.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from carebridge.kernel.db import Base, utcnow
from carebridge.kernel.ids import new_id


class ConsentDirective(Base):
    __tablename__ = "consent_directives"
    __table_args__ = (
        # the policy's lookup: this patient's directives not revoked (expiry is checked on the few rows left)
        Index("ix_consent_directives_live", "patient_id", "revoked_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    kind: Mapped[str] = mapped_column(String(16))  # grant | restriction | break_glass (security.ConsentKind)
    grantee_type: Mapped[str] = mapped_column(String(16))  # practitioner | organization | caregiver
    grantee_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    grantee_organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"),
                                                                      default=None)
    # DataCategory values; ["*"] is every category, present and future
    categories: Mapped[list[Any]] = mapped_column(JSON, default=list)
    purposes: Mapped[list[Any]] = mapped_column(JSON, default=list)  # PurposeOfUse values; [] = any purpose
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    reason: Mapped[str | None] = mapped_column(String(500), default=None)
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
