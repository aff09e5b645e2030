"""CareBridge: one service for finding care, running a clinic and keeping a patient-controlled record."""

__version__ = "0.1.0"
