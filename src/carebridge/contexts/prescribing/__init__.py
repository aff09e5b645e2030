"""The prescribing context: the medicine picker, signed e-prescriptions with decision support, dispensing,
refill requests, the dose schedule and adherence. See docs/prescribing.md."""

from carebridge.contexts.prescribing.schemas import PrescriptionRead, RxStatus

__all__ = ["PrescriptionRead", "RxStatus"]
