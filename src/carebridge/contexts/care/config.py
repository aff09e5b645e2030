"""The care flow's knobs, read once from Settings: TTL, anonymous limit, travel estimate, provider."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from carebridge.contexts.care.fhir_provider import FhirProvider, ProviderUnavailable
from carebridge.contexts.care.providers import FacilityProvider, LocalProvider, Travel
from carebridge.settings import Settings


@dataclass(frozen=True, slots=True)
class CareConfig:
    ttl: timedelta
    anonymous_limit: int
    anonymous_window_seconds: int
    travel: Travel
    provider: FacilityProvider


def provider_for(settings: Settings) -> FacilityProvider:
    if settings.care_facility_provider == "fhir":
        if not settings.care_fhir_base_url:
            raise ProviderUnavailable("CAREBRIDGE_CARE_FHIR_BASE_URL is not set, so the FHIR provider has no server")
        return FhirProvider(settings.care_fhir_base_url, timeout_seconds=settings.care_fhir_timeout_seconds)
    return LocalProvider()


def config_from(settings: Settings, provider: FacilityProvider | None = None) -> CareConfig:
    return CareConfig(
        ttl=timedelta(minutes=settings.care_request_ttl_minutes),
        anonymous_limit=settings.care_anonymous_limit,
        anonymous_window_seconds=settings.care_anonymous_window_seconds,
        travel=Travel(road_factor=settings.facility_road_factor,
                      average_speed_kmh=settings.facility_average_speed_kmh),
        provider=provider or provider_for(settings),
    )
