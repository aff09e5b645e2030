"""Typed configuration: the only module that reads the environment.

Every setting has a safe default so that `carebridge serve` starts with no configuration at all
(SQLite under the data dir, in-process event bus, local files). Production overrides them with
`CAREBRIDGE_*` variables; see the table in the README, generated from this class.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "secret", "dev", "placeholder", "please-change"})


class Settings(BaseSettings):
    """CareBridge settings; environment variables carry the `CAREBRIDGE_` prefix."""

    model_config = SettingsConfigDict(env_prefix="CAREBRIDGE_", extra="ignore")

    env: Literal["dev", "test", "production"] = Field(
        "production", description="dev and test allow placeholder secrets; production refuses them."
    )
    data_dir: Path = Field(Path("carebridge-data"), description="Where the SQLite file, keys and files live.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default is SQLite under the data dir. PostgreSQL: postgresql+psycopg://…"
    )
    host: str = Field("127.0.0.1", description="Address `carebridge serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `carebridge serve` listens on.")
    workers: int = Field(1, ge=1, le=64, description="Server worker processes for `carebridge serve`.")
    secret_key: SecretStr | None = Field(
        None, description="Token-signing secret; generated into the data dir on first start if unset."
    )
    access_token_ttl_seconds: int = Field(900, ge=30, le=86400, description="Lifetime of a JWT access token.")
    refresh_token_ttl_days: int = Field(30, ge=1, le=365, description="Lifetime of a refresh token family.")
    web_session_ttl_hours: int = Field(12, ge=1, le=720, description="Lifetime of a web (cookie) session.")
    login_max_failures_account: int = Field(
        5, ge=1, le=100, description="Failed logins per account within the window before it is throttled."
    )
    login_max_failures_address: int = Field(
        20, ge=1, le=1000, description="Failed logins per client address within the window before throttling."
    )
    login_window_seconds: int = Field(900, ge=10, le=86400, description="Window for counting failed logins.")
    login_lockout_seconds: int = Field(300, ge=1, le=86400, description="How long a throttled login must wait.")
    require_totp_for_admins: bool = Field(True, description="Admins must enrol TOTP before using admin rights.")
    audit_checkpoint_every: int = Field(
        1000, ge=1, le=1_000_000, description="Sign an audit checkpoint after this many entries."
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body accepted (bytes).")
    default_page_size: int = Field(20, ge=1, le=200, description="Items per page when the client does not say.")
    max_page_size: int = Field(100, ge=1, le=1000, description="Largest page a client may ask for.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    log_json: bool = Field(True, description="Structured JSON logs (one object per line).")
    access_log: bool = Field(False, description="Log every request line (the JSON request log is separate).")
    default_language: Literal["en", "hi"] = Field("en", description="UI language before the user picks one.")
    self_registration: bool = Field(True, description="Patients may create their own accounts.")
    facility_road_factor: float = Field(
        1.4, ge=1.0, le=5.0, description="Road distance ÷ great-circle distance, for travel-time estimates."
    )
    facility_average_speed_kmh: float = Field(
        30.0, gt=0, le=200, description="Average travel speed for facility travel-time estimates."
    )
    facility_import_max_bytes: int = Field(
        20 * 1024 * 1024, ge=1024, description="Largest facility import upload (the one route above the body limit)."
    )
    document_max_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024,
        description="Largest patient document (PDF, JPEG, PNG) accepted by upload, in bytes.",
    )

    care_request_ttl_minutes: int = Field(
        1440, ge=1, le=525_600, description="Unsaved care requests are deleted this long after they were made."
    )
    care_anonymous_limit: int = Field(
        10, ge=1, le=100_000, description="Care requests one client address may make without signing in, per window."
    )
    care_anonymous_window_seconds: int = Field(
        3600, ge=1, le=86_400, description="Window for counting anonymous care requests per client address."
    )
    care_facility_provider: Literal["local", "fhir"] = Field(
        "local", description="Where care requests find facilities: the local registry or a remote FHIR server."
    )
    care_fhir_base_url: str | None = Field(
        None, max_length=500, description="Base URL of the FHIR server read when care_facility_provider is fhir."
    )
    care_fhir_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="Connect/read timeout for the remote FHIR facility provider."
    )
    api_key_rate_limit: int = Field(
        600, ge=1, le=1_000_000, description="Requests one integration API key may make per window (unless set on it)."
    )
    api_key_rate_window_seconds: int = Field(
        60, ge=1, le=86_400, description="Window for counting requests per integration API key."
    )

    scheduling_cancel_cutoff_minutes: int = Field(
        120, ge=0, le=10080, description="Patients may cancel or reschedule until this many minutes before the start."
    )
    scheduling_waitlist_hold_minutes: int = Field(
        30, ge=1, le=1440, description="How long a freed slot is held for the waitlisted patient it is offered to."
    )
    scheduling_reminder_minutes: list[int] = Field(
        [1440, 120], max_length=5, description="Appointment reminders go out this many minutes before the start."
    )
    scheduling_meeting_base_url: str = Field(
        "https://meet.example.org/carebridge", max_length=200, description="Teleconsultation links start with this."
    )

    event_bus: Literal["inprocess", "nats", "kafka"] = Field(
        "inprocess", description="Where committed domain events are published: this process, NATS JetStream or Kafka."
    )
    nats_url: str = Field("nats://127.0.0.1:4222", max_length=500, description="NATS server for the nats event bus.")
    mqtt_url: str | None = Field(None, max_length=500,
                                 description="MQTT broker (mqtt://host:port) for the monitoring gateway; unset = none.")
    monitoring_jobs: bool = Field(True, description="Run the monitoring job (escalation, rollups, partitions, "
                                  "retention) inside each server process.")
    monitoring_job_seconds: float = Field(60.0, ge=1, le=3600, description="How often the monitoring job escalates "
                                          "alerts and rebuilds rollups (charts lag by at most this).")
    monitoring_raw_retention_days: int = Field(30, ge=30, le=36500, description="Raw vital readings are kept this "
                                               "long (at least the 30-day late-arrival window).")
    monitoring_minute_rollup_retention_days: int = Field(400, ge=1, le=36500, description="1-minute vitals "
                                                         "rollups are kept this long.")
    monitoring_hour_rollup_retention_days: int = Field(3650, ge=0, le=36500, description="1-hour vitals rollups "
                                                       "are kept this long (0 = for ever).")
    kafka_bootstrap: str = Field("127.0.0.1:9092", max_length=500, description="Kafka brokers for the kafka event bus.")
    event_relay: bool = Field(True, description="Run the outbox relay inside each server process.")
    event_relay_poll_seconds: float = Field(
        1.0, ge=0.05, le=60, description="How often the relay looks for events a commit did not announce."
    )
    event_retention_days: int = Field(7, ge=1, le=3650, description="Published domain events are kept this long.")
    notifications_worker: bool = Field(True, description="Deliver queued notifications inside each server process.")
    notifications_poll_seconds: float = Field(2.0, gt=0, le=3600, description="How often the notification worker "
                                              "looks for due messages.")
    notifications_max_attempts: int = Field(5, ge=1, le=50, description="Delivery attempts before a notification "
                                            "is marked failed.")
    notifications_backoff_seconds: float = Field(30.0, gt=0, le=86400, description="Wait before the first retry; "
                                                 "each further retry waits twice as long (at most an hour).")
    smtp_host: str | None = Field(None, max_length=255, description="SMTP server for email notifications; "
                                  "unset = no email channel.")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP server port.")
    smtp_from: str = Field("CareBridge <no-reply@carebridge.invalid>", max_length=320,
                           description="From address of notification emails.")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_username: str | None = Field(None, max_length=255, description="SMTP login, if the server needs one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    consent_default_categories: list[Literal["demographics", "clinical", "documents", "prescriptions", "vitals",
                                             "appointments"]] = Field(
        ["demographics", "clinical", "documents", "prescriptions", "vitals", "appointments"], max_length=10,
        description="What organizations treating a patient read by default (the patient may narrow it); "
                    "mental health always needs an explicit grant.")
    consent_break_glass_minutes: int = Field(
        60, ge=5, le=1440, description="How long a clinician's break-glass access to a record stays open.")

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.secret_key is not None and self.env == "production":
            value = self.secret_key.get_secret_value()
            if value.strip().lower() in PLACEHOLDER_SECRETS or len(value) < 32:
                raise ValueError(
                    "CAREBRIDGE_SECRET_KEY is a placeholder or shorter than 32 characters; "
                    "set a real secret or unset it to have one generated (placeholders need CAREBRIDGE_ENV=dev)"
                )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'carebridge.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def settings_table_markdown() -> str:
    """The README's configuration table, generated so docs and code cannot drift apart."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, Path):
            shown = f"`{default}`"
        elif default is None:
            shown = "(unset)"
        else:
            shown = f"`{default}`"
        rows.append(f"| `CAREBRIDGE_{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(rows)
