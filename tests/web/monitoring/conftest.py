"""The monitoring rig (a clinic patient with a registered device) for page tests."""

from tests.api.monitoring.conftest import rig

__all__ = ["rig"]
