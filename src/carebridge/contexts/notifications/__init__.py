"""The notifications context: an outbox written in the caller's transaction, a worker that delivers at least
once with retries, and in-app, log, email and SMS channels within each user's preferences and quiet hours.

Other contexts register their templates and call `enqueue` / `cancel_pending`.
"""

from carebridge.contexts.notifications.outbox import Recipient, cancel_pending, enqueue
from carebridge.contexts.notifications.templates import Template, register_template

__all__ = ["Recipient", "Template", "cancel_pending", "enqueue", "register_template"]
