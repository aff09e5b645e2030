"""The consent context: who may see a patient's record, as the patient decides, and break-glass.

Other contexts use only the policy facts loader (the patients context feeds it into every access decision);
the use cases are reached through this context's API and pages.
"""

from carebridge.contexts.consent.facts import ALL_CATEGORIES, configure, consent_facts, organization_default

__all__ = ["ALL_CATEGORIES", "configure", "consent_facts", "organization_default"]
