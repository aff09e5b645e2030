"""The FastAPI dependency that turns an API key into an `ApiClient` (the compatibility routes use it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from carebridge.contexts.integrations.service import ApiClient, check_key, parse_key
from carebridge.kernel.deps import ClockDep, SessionDep, SettingsDep


async def require_api_client(
    session: SessionDep, clock: ClockDep, settings: SettingsDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(description="An integration API key (cbk_…).")] = None,
) -> ApiClient:
    return check_key(session, key=parse_key(authorization, x_api_key), now=clock.now(),
                     default_limit=settings.api_key_rate_limit, window_seconds=settings.api_key_rate_window_seconds)


ApiClientDep = Annotated[ApiClient, Depends(require_api_client)]
