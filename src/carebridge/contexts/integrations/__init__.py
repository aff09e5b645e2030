"""The integrations context: API keys for apps that integrate with CareBridge, and shared request limits.

Other contexts use `ApiClientDep` (a route dependency: the calling app, rate-limited per key),
`ApiClient`, `ApiScope`, and `ratelimit.hit` / `address_bucket` to limit anonymous callers.
"""

from carebridge.contexts.integrations.auth import ApiClientDep
from carebridge.contexts.integrations.ratelimit import address_bucket, hit, purge_hits
from carebridge.contexts.integrations.schemas import ApiKeyCreate, ApiKeyIssued, ApiKeyRead, ApiScope
from carebridge.contexts.integrations.service import ApiClient, issue_key, list_keys, revoke_key

__all__ = [
    "ApiClient",
    "ApiClientDep",
    "ApiKeyCreate",
    "ApiKeyIssued",
    "ApiKeyRead",
    "ApiScope",
    "address_bucket",
    "hit",
    "issue_key",
    "list_keys",
    "purge_hits",
    "revoke_key",
]
