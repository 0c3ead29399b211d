"""The one Settings object: every knob is read from the environment or `.env`.

Each external service has an embedded default so that the app runs on a laptop
with nothing else installed; setting the matching variable switches to the real
service.  Only settings that the code honours are listed here: Redis, Kafka,
Pinecone and Firebase switches arrive with the features that use them.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # --- storage -----------------------------------------------------------
    data_dir: Path = Field(default=Path("data"), description="Where the embedded SQLite file lives.")
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL. Empty: sqlite file in DATA_DIR. "
        "Production: postgresql+psycopg://user:pass@host/db.",
    )
    db_pool_size: int = Field(default=5, ge=1, description="Connections kept open (PostgreSQL).")
    db_max_overflow: int = Field(default=10, ge=0, description="Extra connections under load (PostgreSQL).")

    # --- queue ------------------------------------------------------------
    embedded_workers: int = Field(
        default=16, ge=1, le=256, description="Concurrent runs in the in-process worker."
    )

    # --- streaming ---------------------------------------------------------
    stream_flush_hz: float = Field(
        default=20.0, ge=10.0, le=60.0, description="State updates per second sent to each browser session."
    )

    # --- providers ---------------------------------------------------------
    simulated_enabled: bool = Field(default=True, description="Offer the keyless simulated model family.")
    openai_api_key: SecretStr = Field(default=SecretStr(""))
    openai_base_url: str = Field(default="", description="Override OpenAI's API address (proxies).")
    anthropic_api_key: SecretStr = Field(default=SecretStr(""))
    anthropic_base_url: str = Field(default="")
    google_cloud_project: str = Field(default="", description="Vertex AI project; credentials via ADC.")
    vertex_location: str = Field(default="us-central1")
    ollama_base_url: str = Field(default="http://127.0.0.1:11434")
    openai_compatible_endpoints: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description='JSON: {"name": {"base_url": "http://host:8000/v1", "api_key": "..."}}; '
        "models appear as openai-compatible:<name>/<model>.",
    )
    provider_timeout_seconds: float = Field(default=120.0, gt=0)
    provider_probe_timeout_seconds: float = Field(default=0.5, gt=0)

    @field_validator("openai_compatible_endpoints", mode="before")
    @classmethod
    def _parse_endpoints(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'dashboard.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once on first use (never at import)."""
    return Settings()
