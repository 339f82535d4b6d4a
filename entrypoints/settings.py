"""Configuration from the environment (and an optional .env file), checked once at start-up."""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, TypeAlias
from urllib.parse import urlsplit
from uuid import UUID

import msgspec
from dotenv import dotenv_values

from application.errors import InvalidMediaKey
from application.ports.media_store import check_media_key
from domain.administration.audit import MIN_RETENTION

MIN_JWT_SECRET_BYTES = 32
MAX_ACCESS_TOKEN_TTL_SECONDS = 900
FORWARDING_HEADERS = ("x-forwarded-for", "forwarded")

IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigurationError(Exception):
    """The configuration cannot run the service; the message says what to set."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    environment: Literal["development", "production"] = "development"
    data_dir: str = ".wa-gateway"
    database_url: str | None = None
    # The owner's URL, for migrations (`db upgrade`, serve's own); unset: DATABASE_URL. On PostgreSQL,
    # DATABASE_URL should then name a role that owns no table, so row-level security binds it.
    migration_database_url: str | None = None
    db_pool_size: int = 10
    # How long a request waits for a free database connection before it is answered 503 with
    # Retry-After (nothing written): overload is refused at once rather than queued for seconds.
    db_pool_timeout_ms: int = 1000
    # PostgreSQL, with the embedded dispatcher: the background work (dispatch, webhooks, media, campaigns)
    # draws on a pool of its own, this large, so a flood of requests cannot take its connections.
    db_background_pool_size: int = 10
    # PostgreSQL: statements run often are prepared once per connection (psycopg's prepare_threshold).
    # Off for a pooler in transaction mode that cannot carry prepared statements across transactions.
    db_prepared_statements: bool = True
    # Requests one API process works on at once (probes and metrics scrapes aside); one that waits longer
    # than REQUEST_QUEUE_TIMEOUT_MS for its turn is answered 503 with Retry-After. 0: no limit. The
    # default is the requests' pool (DB_POOL_SIZE + 10 for bursts), so an admitted request finds a
    # connection instead of waiting DB_POOL_TIMEOUT_MS for one.
    max_concurrent_requests: int = 20
    request_queue_timeout_ms: int = 500
    # Providers' callbacks (statuses, customers' messages) wait this long for their turn: Twilio does not
    # post a status again, so shedding one loses it (Twilio gives up after 15 s).
    callback_queue_timeout_ms: int = 10000
    jwt_secret: str | None = None
    jwt_issuer: str = "wa-gateway"
    jwt_audience: str = "wa-gateway-api"
    access_token_ttl_seconds: int = 900  # at most MAX_ACCESS_TOKEN_TTL_SECONDS: larger values are capped
    # PostgreSQL only: API processes keep checked sessions this long at most, emptied at once by any
    # change that could revoke them (NOTIFY; adapters/database/access_cache.py). 0: check every request.
    access_cache_seconds: float = 60.0
    # How long a login session (its refresh tokens) lasts; refreshing does not extend it.
    refresh_token_ttl_seconds: int = 14 * 24 * 3600
    credentials_keys: str | None = None
    public_base_url: str | None = None
    twilio_api_base_url: str | None = None
    # Meta's Graph API (https://graph.facebook.com) unless set: an emulator's URL, in development.
    meta_graph_api_base_url: str | None = None
    # Each call to a provider's API (Twilio's, Meta's Graph API) is given up after this long.
    provider_timeout_seconds: float = 10.0
    sandbox_sent_after_seconds: float = 0.2
    sandbox_delivered_after_seconds: float = 1.0
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    max_concurrent_password_hashes: int = 4
    max_request_body_bytes: int = 65536
    login_attempts_per_minute: int = 10
    requests_per_minute_per_ip: int = 600
    # Twilio webhooks failing their signature check, per client address, before it gets 429s; 0: none.
    twilio_signature_failures_per_minute: int = 30
    # Meta webhooks failing their signature check, and handshakes with a wrong verify token, per client
    # address, before it gets 429s; 0: none.
    meta_signature_failures_per_minute: int = 30
    # Rate limits are shared through Redis when set (redis://host:port/db), kept per process otherwise.
    redis_url: str | None = None
    # Messages a tenant may send, unless the tenant has its own limits (PATCH /admin/tenants/{id}); 0: none.
    tenant_sends_per_minute: int = 600
    tenant_sends_per_day: int = 100_000
    rate_limit_key_prefix: str = "wa-gateway"
    # Addresses and CIDRs of the proxies in front (comma-separated): only a request from one of them is
    # believed about the client's address, read from TRUSTED_PROXY_HEADER. Unset: the peer is the client.
    trusted_proxies: str = ""
    # The header those proxies write: x-forwarded-for or forwarded (RFC 7239). Only that one is read: a
    # proxy passes the other through as the client sent it.
    trusted_proxy_header: str = "x-forwarded-for"
    # The HTTP server `wa-gateway serve` runs the API under (--server overrides it): docs/benchmarks.md.
    http_server: Literal["uvicorn", "granian"] = "uvicorn"
    log_level: str = "INFO"
    # json (one object a line) or console; unset: console in development, json in production.
    log_format: Literal["json", "console"] | None = None
    # GET /metrics wants "Authorization: Bearer <this>" when set; open (for the internal network) when not.
    metrics_token: str | None = None
    # A tenant label on message metrics: false, true (every tenant), or a comma-separated allow-list.
    metrics_tenant_labels: str = "false"
    # `wa-gateway worker` serves /healthz and /metrics on this port when set.
    metrics_port: int | None = None
    demo_data: bool = True
    # The API's documentation (/docs, its files and /docs/openapi.json); false leaves them out.
    docs_enabled: bool = True
    # Dispatch: every API process runs a dispatcher unless this is off (then run `wa-gateway worker`).
    embedded_dispatcher: bool = True
    send_wait_seconds: float = 2.0
    dispatch_max_attempts: int = 8
    dispatch_lease_seconds: float = 60.0
    dispatch_reconcile_after_seconds: float = 30.0
    dispatch_unconfirmed_after_seconds: float = 3600.0
    dispatch_poll_seconds: float = 0.25
    dispatch_concurrency: int = 200
    tenant_max_in_flight: int = 50
    sender_messages_per_second: float = 80.0
    sender_pause_seconds: float = 900.0
    # Campaigns: how often the runner looks for due campaigns, and how far ahead it plans their slots.
    campaign_tick_seconds: float = 0.5
    campaign_horizon_seconds: float = 1.0
    # Tenant webhooks: delivered by the same processes as dispatch.
    webhooks_allow_private_networks: bool = False  # true lets webhooks reach loopback/private addresses (dev)
    webhook_timeout_seconds: float = 15.0
    webhook_max_attempts: int = 16  # with the delays below, retries spread over about a day
    webhook_retry_base_seconds: float = 30.0
    webhook_retry_max_seconds: float = 8 * 3600.0
    webhook_secret_overlap_seconds: int = 24 * 3600  # a rotated secret stays valid this long by default
    webhook_concurrency: int = 50
    webhook_poll_seconds: float = 0.5
    webhook_retention_days: int = 30  # delivered and dead deliveries are kept this long
    # The audit trail is kept this long (30 days at least: entries younger than that are never purged).
    audit_retention_days: int = 365
    # Media customers send, kept for their tenants: on the local disk (MEDIA_DIR) or in an S3 bucket.
    media_store: Literal["local", "s3"] = "local"
    media_dir: str | None = None  # unset: DATA_DIR/media
    # The largest file kept: WhatsApp's own limit for audio and video, and Twilio's for any media.
    media_max_bytes: int = 16 * 1024 * 1024
    media_s3_endpoint_url: str | None = None  # unset: AWS S3
    media_s3_bucket: str | None = None
    media_s3_region: str = "us-east-1"
    media_s3_access_key_id: str | None = None  # unset (both): AWS_* variables, an instance role …
    media_s3_secret_access_key: str | None = None
    media_s3_prefix: str = ""
    # Bucket in the path (MinIO, Supabase) rather than the host name; unset: true with an endpoint URL.
    media_s3_path_style: bool | None = None
    # Inbound media are downloaded from the provider by the workers (as dispatch is): each download is
    # given up after this long, and a failing one is tried this many times in all (with backoff).
    media_download_timeout_seconds: float = 60.0
    media_download_attempts: int = 10
    # How often every tenant's templates are brought in step with its provider accounts' catalogues
    # (statuses, quality, templates made or deleted in a provider's console); 0: never by itself.
    template_sync_seconds: float = 900.0

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def resolved_log_format(self) -> Literal["json", "console"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.is_production else "console"

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{Path(self.data_dir).resolve() / 'wa-gateway.db'}"

    @property
    def resolved_migration_database_url(self) -> str:
        return self.migration_database_url or self.resolved_database_url

    @property
    def resolved_media_dir(self) -> Path:
        return Path(self.media_dir or Path(self.data_dir) / "media").resolve()


FIELDS = tuple(Settings.__struct_fields__)


def load_settings(environ: Mapping[str, str] | None = None, env_file: str | None = ".env") -> Settings:
    """Read settings: environment variables win over the .env file; names are the fields in upper case."""
    values: dict[str, str] = {}
    if env_file and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    raw = {name: values[name.upper()] for name in FIELDS if values.get(name.upper(), "") != ""}
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as error:
        raise ConfigurationError(f"invalid setting: {error}") from error
    return _complete(settings)


def _complete(settings: Settings) -> Settings:
    """Check production settings; in development, fill secrets with values kept in the data directory."""
    if settings.is_production:
        missing = [
            name.upper()
            for name in ("database_url", "jwt_secret", "credentials_keys")
            if not getattr(settings, name)
        ]
        if missing:
            raise ConfigurationError(f"production mode needs {', '.join(missing)} to be set")
    else:
        data_dir = Path(settings.data_dir)
        settings = msgspec.structs.replace(
            settings,
            jwt_secret=settings.jwt_secret
            or _local_secret(data_dir / "jwt-secret", secrets.token_urlsafe(48)),
            credentials_keys=settings.credentials_keys
            or _local_secret(data_dir / "credentials-key", _new_aes_key()),
        )
    if len((settings.jwt_secret or "").encode()) < MIN_JWT_SECRET_BYTES:
        raise ConfigurationError(f"JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes")
    _check_tenant_labels(settings.metrics_tenant_labels)
    try:
        parse_networks(settings.trusted_proxies)
    except ValueError as error:
        raise ConfigurationError(f"TRUSTED_PROXIES: {error}") from None
    header = settings.trusted_proxy_header.strip().lower()
    if header not in FORWARDING_HEADERS:
        raise ConfigurationError(f"TRUSTED_PROXY_HEADER must be one of {', '.join(FORWARDING_HEADERS)}")
    settings = msgspec.structs.replace(settings, trusted_proxy_header=header)
    if settings.access_token_ttl_seconds < 1 or settings.refresh_token_ttl_seconds < 60:
        raise ConfigurationError(
            "ACCESS_TOKEN_TTL_SECONDS must be positive and REFRESH_TOKEN_TTL_SECONDS at least 60"
        )
    # A worker extends its lease just before calling the provider; if the lease could run out while the
    # call is still in flight (connect and read may each take the timeout), another worker would reclaim
    # the job and might send the message a second time.
    if settings.dispatch_lease_seconds < 2 * settings.provider_timeout_seconds:
        raise ConfigurationError(
            f"DISPATCH_LEASE_SECONDS ({settings.dispatch_lease_seconds:g}) must be at least twice "
            f"PROVIDER_TIMEOUT_SECONDS ({settings.provider_timeout_seconds:g})"
        )
    _check_overload_limits(settings)
    if settings.template_sync_seconds < 0:
        raise ConfigurationError("TEMPLATE_SYNC_SECONDS must be 0 (off) or positive")
    if settings.audit_retention_days < MIN_RETENTION.days:
        raise ConfigurationError(f"AUDIT_RETENTION_DAYS must be at least {MIN_RETENTION.days}")
    _check_media(settings)
    if not 0 < settings.dispatch_reconcile_after_seconds <= settings.dispatch_unconfirmed_after_seconds:
        raise ConfigurationError(
            "DISPATCH_RECONCILE_AFTER_SECONDS must be positive and DISPATCH_UNCONFIRMED_AFTER_SECONDS at "
            "least as long: a send without an answer waits that long for its provider's status report"
        )
    _check_base_url(settings.meta_graph_api_base_url, "META_GRAPH_API_BASE_URL")
    # Access tokens live 15 minutes at most, whatever is configured: clients refresh (or use an API key).
    if settings.access_token_ttl_seconds > MAX_ACCESS_TOKEN_TTL_SECONDS:
        settings = msgspec.structs.replace(settings, access_token_ttl_seconds=MAX_ACCESS_TOKEN_TTL_SECONDS)
    return settings


def _check_overload_limits(settings: Settings) -> None:
    if (
        settings.db_pool_timeout_ms < 1
        or min(settings.request_queue_timeout_ms, settings.callback_queue_timeout_ms) < 0
    ):
        raise ConfigurationError(
            "DB_POOL_TIMEOUT_MS must be positive, "
            "REQUEST_QUEUE_TIMEOUT_MS and CALLBACK_QUEUE_TIMEOUT_MS not negative"
        )
    if settings.max_concurrent_requests < 0:
        raise ConfigurationError("MAX_CONCURRENT_REQUESTS must be 0 (no limit) or positive")
    if settings.db_pool_size < 1 or settings.db_background_pool_size < 1:
        raise ConfigurationError("DB_POOL_SIZE and DB_BACKGROUND_POOL_SIZE must be at least 1")


def parse_networks(value: str) -> tuple[IPNetwork, ...]:
    """Comma-separated addresses and CIDRs (``10.0.0.0/8, 192.0.2.7, 2001:db8::/32``) as networks.

    An IPv4-mapped IPv6 network (``::ffff:10.0.0.1``, ``::ffff:10.0.0.0/104``) is its IPv4 network: a
    dual-stack socket's view of an IPv4 peer is judged as that IPv4 address, so only that can match.
    """
    networks: list[IPNetwork] = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network (CIDR)") from None
        mapped = network.network_address.ipv4_mapped if network.version == 6 else None
        if mapped is not None:
            network = ipaddress.IPv4Network((mapped, network.prefixlen - 96))
        networks.append(network)
    return tuple(networks)


def _check_base_url(url: str | None, name: str) -> None:
    if not url:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigurationError(f"{name} must be an absolute http(s) URL without query, like https://host")


def _check_media(settings: Settings) -> None:
    if settings.media_max_bytes < 1:
        raise ConfigurationError("MEDIA_MAX_BYTES must be positive")
    if settings.media_download_attempts < 1 or settings.media_download_timeout_seconds <= 0:
        raise ConfigurationError(
            "MEDIA_DOWNLOAD_ATTEMPTS must be at least 1 and MEDIA_DOWNLOAD_TIMEOUT_SECONDS positive"
        )
    if settings.media_store != "s3":
        return
    if not settings.media_s3_bucket:
        raise ConfigurationError("MEDIA_STORE=s3 needs MEDIA_S3_BUCKET")
    if bool(settings.media_s3_access_key_id) != bool(settings.media_s3_secret_access_key):
        raise ConfigurationError(
            "set both MEDIA_S3_ACCESS_KEY_ID and MEDIA_S3_SECRET_ACCESS_KEY, or neither (AWS's own sources)"
        )
    prefix = settings.media_s3_prefix.strip("/")
    if prefix:
        try:
            check_media_key(prefix)
        except InvalidMediaKey:
            raise ConfigurationError(
                "MEDIA_S3_PREFIX is segments of letters, digits, '-' and '_' joined by '/'"
            ) from None


def _check_tenant_labels(value: str) -> None:
    if value.strip().lower() in {"", "false", "true", "0", "1", "no", "yes", "off", "on", "all"}:
        return
    for item in filter(None, (part.strip() for part in value.split(","))):
        try:
            UUID(item)
        except ValueError:
            raise ConfigurationError(
                f"METRICS_TENANT_LABELS: {item!r} is not a tenant id; "
                "use false, true or a comma-separated list of tenant ids"
            ) from None


def _new_aes_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _local_secret(path: Path, fresh: str) -> str:
    """A development secret generated once and kept, so tokens and sealed credentials survive restarts."""
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(fresh)
    return fresh
