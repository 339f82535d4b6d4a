"""The composition root: the only place where ports are bound to adapters."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec
from dependency_injector import containers, providers

from adapters.database.access_cache import NO_ACCESS_CACHE, ListeningAccessCache
from adapters.database.engine import create_database_engine
from adapters.database.roles import RoleNotUsable, grant_app_role, inspect_connected_role
from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from adapters.media.local import LocalMediaStore
from adapters.media_fetch_router import InboundMediaRouter
from adapters.meta.callback_authentication import MetaApps
from adapters.meta.callbacks import MetaDeliveries, MetaSubscriptionChecks
from adapters.meta.provider import MetaMessagingProvider
from adapters.meta.templates import MetaTemplateProvider
from adapters.metrics.prometheus import PrometheusMetrics, clear_multiprocess_directory
from adapters.provider_router import ProviderRouter
from adapters.ratelimit.sliding_window import SlidingWindowRateLimiter
from adapters.sandbox.provider import SandboxMessagingProvider
from adapters.sandbox.templates import SandboxTemplateProvider
from adapters.security.argon2_hasher import Argon2PasswordHasher
from adapters.security.jwt_tokens import JwtTokenService
from adapters.security.secret_box import SecretBox, parse_keys
from adapters.system_clock import SystemClock
from adapters.template_provider_router import TemplateProviderRouter
from adapters.tenant_webhooks.destinations import DestinationPolicy, ResolvingWebhookUrlGuard
from adapters.tenant_webhooks.sender import AiohttpWebhookSender
from adapters.twilio.callback_authentication import TwilioSigners
from adapters.twilio.callbacks import TwilioInboundMessages, TwilioStatusCallbacks
from adapters.twilio.media import TwilioMediaFetcher
from adapters.twilio.provider import TwilioMessagingProvider, load_rest_client
from adapters.twilio.templates import TwilioTemplateProvider
from application.administration.audit_trail import ListAuditTrail, ListPlatformAuditTrail, PurgeAuditLog
from application.administration.onboarding import (
    AddSender,
    CreateTenant,
    CreateUser,
    EnsurePlatformTenant,
    ProvisionDemo,
)
from application.administration.platform import (
    GetTenant,
    ListTenants,
    ReactivateTenant,
    SuspendTenant,
    UpdateTenant,
)
from application.administration.provider_accounts import (
    AddProviderAccount,
    GetProviderAccount,
    ListProviderAccounts,
    RemoveProviderAccount,
    UpdateProviderAccount,
)
from application.administration.tenant_admin import (
    GetCredentialsSummary,
    GetUser,
    ListSenders,
    ListUsers,
    RemoveSender,
    SetTwilioCredentials,
    UpdateSender,
    UpdateUser,
)
from application.campaigns.management import (
    CancelCampaign,
    CreateCampaign,
    GetCampaign,
    ListCampaignRecipients,
    ListCampaigns,
    PauseCampaign,
    ResumeCampaign,
    UploadCampaignAudience,
)
from application.campaigns.runner import CampaignRunner, RunnerSettings
from application.campaigns.sender_quality import PauseCampaignsOfDegradedSender
from application.consent.management import (
    GetConsent,
    GetConsentPolicy,
    ListConsentLedger,
    SetConsent,
    SetConsentPolicy,
)
from application.contacts.book import CreateContact, DeleteContact, GetContact, ListContacts, UpdateContact
from application.contacts.transfer import ExportContacts, ImportContacts
from application.dashboard.platform_usage import ReadPlatformUsage
from application.dashboard.read_dashboard import ReadDashboard
from application.identity.api_keys import CreateApiKey, ListApiKeys, RevokeApiKey
from application.identity.authenticate import Authenticate
from application.identity.sessions import (
    ChangeOwnPassword,
    Logout,
    PurgeExpiredSessions,
    RefreshSession,
    ResolvePrincipal,
    SessionPolicy,
)
from application.inbound.delivery_status import RecordStatusChange
from application.inbound.receive_delivery import ReceiveProviderDelivery
from application.inbound.receive_message import ReceiveInboundMessage
from application.inbound.record_status_report import RecordStatusReport
from application.inbound.subscription_check import AnswerSubscriptionCheck
from application.kept_reads import KeptReads
from application.media.downloads import (
    DownloadInboundMedia,
    MediaDownloadSettings,
    download_retry_policy,
)
from application.media.library import OpenMedia
from application.media.worker import MediaDownloader, MediaWorkerSettings
from application.messaging.conversations import GetConversation, ListConversations, MarkConversationSeen
from application.messaging.dispatch_message import DispatchMessage, DispatchSettings
from application.messaging.dispatcher import Dispatcher, DispatcherSettings
from application.messaging.history import GetMessage, ListHistory
from application.messaging.inbox_feed import InboxFeed, ReadInboxChanges
from application.messaging.read_receipts import MarkMessageRead
from application.messaging.scheduling import CancelScheduled, ListScheduled, RescheduleMessage
from application.messaging.send_message import RetryMessage, SendMessage, TenantSendLimits
from application.messaging.sending_profiles import SendingProfiles
from application.messaging.template_sends import KeptCatalogue, ListSendableTemplates
from application.messaging.tenant_limits import GatewayLimits, GetTenantLimits
from application.operations.housekeeping import PurgeIdempotencyKeys, ResealCredentials
from application.operations.measurements import MeasureDispatchQueue
from application.operations.readiness import CheckReadiness
from application.ports.identity import AccessCache
from application.ports.messages import StatusChange
from application.ports.providers import StatusListener
from application.ports.rate_limits import RateLimit
from application.ports.unit_of_work import UnitOfWork
from application.privacy.contact_data import EraseContactData, ExportContactData
from application.privacy.retention import ApplyRetention, GetRetentionPolicy, SetRetentionPolicy
from application.templates.as_code import (
    ApplyTemplates,
    ExportTemplates,
    PlanTemplates,
    ResolveTenant,
)
from application.templates.catalogue import (
    CreateTemplate,
    DeleteTemplate,
    GetTemplate,
    ListTemplates,
    PreviewTemplate,
)
from application.templates.sync import ApplyTemplateStatusUpdate, SyncAllTemplates, SyncTemplates
from application.tenant_webhooks.delivery import (
    DeliverWebhook,
    PurgeWebhookDeliveries,
    WebhookDeliverySettings,
)
from application.tenant_webhooks.endpoints import (
    MAX_ENDPOINTS_PER_TENANT,
    DeleteWebhookEndpoint,
    GetWebhookDelivery,
    GetWebhookEndpoint,
    ListWebhookDeliveries,
    ListWebhookEndpoints,
    RegisterWebhookEndpoint,
    ReplayWebhookDelivery,
    RotateWebhookSecret,
    UpdateWebhookEndpoint,
)
from application.tenant_webhooks.worker import WebhookWorker, WebhookWorkerSettings
from application.transactions import ConflictRetry
from domain.administration.tenancy import ProviderName
from domain.retry_policy import RetryPolicy
from entrypoints.settings import ConfigurationError, Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from adapters.media.s3 import S3MediaStore

logger = logging.getLogger(__name__)


def _s3_media_store(**options: Any) -> S3MediaStore:
    """The S3 media store, imported only when MEDIA_STORE chooses it: aiobotocore and botocore take
    ~40 MiB of a process's memory."""
    from adapters.media.s3 import S3MediaStore

    return S3MediaStore(**options)


def _report_to(factory: Callable[[], RecordStatusChange]) -> StatusListener:
    """The sandbox reports statuses as Twilio's callbacks would: each one through a fresh use case."""

    async def report(change: StatusChange) -> None:
        await factory()(change)

    return report


def _dispatch_settings(settings: Settings) -> DispatchSettings:
    return DispatchSettings(
        retry=RetryPolicy(max_attempts=settings.dispatch_max_attempts),
        lease_seconds=settings.dispatch_lease_seconds,
        reconcile_after=timedelta(seconds=settings.dispatch_reconcile_after_seconds),
        unconfirmed_after=timedelta(seconds=settings.dispatch_unconfirmed_after_seconds),
        sender_pause=timedelta(seconds=settings.sender_pause_seconds),
    )


def _webhook_delivery_settings(settings: Settings) -> WebhookDeliverySettings:
    return WebhookDeliverySettings(
        retry=RetryPolicy(
            max_attempts=settings.webhook_max_attempts,
            base_delay=timedelta(seconds=settings.webhook_retry_base_seconds),
            max_delay=timedelta(seconds=settings.webhook_retry_max_seconds),
        )
    )


def _webhook_worker_settings(settings: Settings) -> WebhookWorkerSettings:
    return WebhookWorkerSettings(
        poll_interval_seconds=settings.webhook_poll_seconds,
        max_concurrent=settings.webhook_concurrency,
        batch_size=min(50, settings.webhook_concurrency),
        # An attempt takes at most the timeout: the lease outlasts it with room to settle.
        lease_seconds=settings.webhook_timeout_seconds + 45.0,
    )


def _itself(value: AiohttpWebhookSender) -> AiohttpWebhookSender:
    return value


def _media_download_settings(settings: Settings) -> MediaDownloadSettings:
    return MediaDownloadSettings(retry=download_retry_policy(settings.media_download_attempts))


def _media_worker_settings(settings: Settings) -> MediaWorkerSettings:
    # An attempt takes at most the timeout (the description, then the file), then the store's write:
    # the lease outlasts it with room to settle.
    return MediaWorkerSettings(lease_seconds=2 * settings.media_download_timeout_seconds + 60.0)


_BACKGROUND_POOL_TIMEOUT_SECONDS = 30.0


def _read_only(uow: UnitOfWork) -> UnitOfWork:
    return uow.read_only_twin() if isinstance(uow, SqlAlchemyUnitOfWork) else uow


def _on_background_pool(uow: UnitOfWork, engine: AsyncEngine) -> UnitOfWork:
    return uow.on_engine(engine) if isinstance(uow, SqlAlchemyUnitOfWork) else uow


def _background_engine(settings: Settings, shared: AsyncEngine) -> AsyncEngine:
    """The pool the background work draws on. In an API process that dispatches too (PostgreSQL), a
    pool of its own: requests flooding the API then wait for (or are refused) their connections while
    dispatch keeps its share and the backlog drains. Elsewhere the process's one pool: a worker runs no
    API, and SQLite serves one machine's development (an in-memory database cannot be shared at all)."""
    url = settings.resolved_database_url
    if not settings.embedded_dispatcher or not url.startswith(("postgres", "postgresql")):
        return shared
    return create_database_engine(
        url,
        pool_size=settings.db_background_pool_size,
        max_overflow=0,
        # Background work waits for a connection rather than giving its round up.
        pool_timeout_seconds=_BACKGROUND_POOL_TIMEOUT_SECONDS,
        prepared_statements=settings.db_prepared_statements,
    )


def _access_cache(settings: Settings) -> ListeningAccessCache | None:
    """The session checks' cache: PostgreSQL only (SQLite has no NOTIFY to keep processes in step)."""
    url = settings.resolved_database_url
    if settings.access_cache_seconds <= 0 or not url.startswith("postgresql"):
        return None
    return ListeningAccessCache(url, ttl_seconds=settings.access_cache_seconds)


def _invalidator(cache: ListeningAccessCache | None) -> Callable[[], None] | None:
    return cache.invalidate if cache is not None else None


def _signers_changed_hook(cache: ListeningAccessCache | None) -> Callable[[], None] | None:
    return cache.signers_changed if cache is not None else None


def _signers_version(cache: ListeningAccessCache | None) -> Callable[[], int | None] | None:
    return cache.signers_version if cache is not None else None


def _sending_profiles(cache: ListeningAccessCache | None, ttl_seconds: float) -> SendingProfiles | None:
    """Accepts' sending profiles, kept while the access cache's listener vouches for them."""
    return SendingProfiles(cache.senders_version, ttl_seconds=ttl_seconds) if cache is not None else None


def _kept_catalogue(cache: ListeningAccessCache | None, ttl_seconds: float) -> KeptCatalogue | None:
    """Sends' catalogue templates, kept while the access cache's listener vouches for them."""
    return KeptReads(cache.catalogue_version, ttl_seconds=ttl_seconds) if cache is not None else None


def _catalogue_changed_hook(cache: ListeningAccessCache | None) -> Callable[[], None] | None:
    return cache.catalogue_changed if cache is not None else None


def _as_access_cache(cache: ListeningAccessCache | None) -> AccessCache:
    return cache if cache is not None else NO_ACCESS_CACHE


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def _days(value: float) -> timedelta:
    return timedelta(days=value)


def _campaign_runner_settings(settings: Settings) -> RunnerSettings:
    return RunnerSettings(
        tick_seconds=settings.campaign_tick_seconds, horizon_seconds=settings.campaign_horizon_seconds
    )


def _dispatcher_settings(settings: Settings) -> DispatcherSettings:
    return DispatcherSettings(
        poll_interval_seconds=settings.dispatch_poll_seconds,
        max_concurrent_sends=settings.dispatch_concurrency,
        max_in_flight_per_tenant=settings.tenant_max_in_flight,
        sender_messages_per_second=settings.sender_messages_per_second,
        lease_seconds=settings.dispatch_lease_seconds,
    )


def _gateway_limits(settings: Settings) -> GatewayLimits:
    return GatewayLimits(
        max_in_flight=settings.tenant_max_in_flight,
        sender_messages_per_second=settings.sender_messages_per_second,
        max_webhook_endpoints=MAX_ENDPOINTS_PER_TENANT,
        requests_per_minute_per_address=settings.requests_per_minute_per_ip,
        login_attempts_per_minute=settings.login_attempts_per_minute,
    )


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    metrics = providers.Singleton(PrometheusMetrics, tenant_labels=settings.provided.metrics_tenant_labels)
    engine = providers.Singleton(
        create_database_engine,
        settings.provided.resolved_database_url,
        pool_size=settings.provided.db_pool_size,
        pool_timeout_seconds=providers.Callable(lambda ms: ms / 1000, settings.provided.db_pool_timeout_ms),
        prepared_statements=settings.provided.db_prepared_statements,
    )
    background_engine = providers.Singleton(_background_engine, settings, engine)
    secret_box = providers.Singleton(
        lambda keys: SecretBox(parse_keys(keys)), settings.provided.credentials_keys
    )
    access_cache = providers.Singleton(_access_cache, settings)
    unit_of_work = providers.Factory(
        SqlAlchemyUnitOfWork,
        engine,
        secret_box,
        on_access_changed=providers.Callable(_invalidator, access_cache),
        on_signers_changed=providers.Callable(_signers_changed_hook, access_cache),
        on_catalogue_changed=providers.Callable(_catalogue_changed_hook, access_cache),
    )
    # For use cases that only read: no transaction round trips (see SqlAlchemyUnitOfWork). Derived
    # from unit_of_work, so a test that overrides unit_of_work with a fake overrides this one too.
    read_unit_of_work = providers.Factory(_read_only, unit_of_work)
    # For background work (dispatch, the webhook and media workers, campaigns, housekeeping): the same
    # unit of work on the background pool (_background_engine); a fake for unit_of_work overrides it too.
    background_unit_of_work = providers.Factory(_on_background_pool, unit_of_work, background_engine)
    background_read_unit_of_work = providers.Factory(_read_only, background_unit_of_work)

    password_hasher = providers.Singleton(
        Argon2PasswordHasher,
        time_cost=settings.provided.argon2_time_cost,
        memory_cost_kib=settings.provided.argon2_memory_kib,
        parallelism=settings.provided.argon2_parallelism,
        max_concurrent=settings.provided.max_concurrent_password_hashes,
    )
    token_service = providers.Singleton(
        JwtTokenService,
        secret=settings.provided.jwt_secret,
        issuer=settings.provided.jwt_issuer,
        audience=settings.provided.jwt_audience,
        ttl_seconds=settings.provided.access_token_ttl_seconds,
        clock=clock,
    )

    rate_limiter = providers.Singleton(
        SlidingWindowRateLimiter,
        redis_url=settings.provided.redis_url,
        key_prefix=settings.provided.rate_limit_key_prefix,
    )
    login_failure_limit = providers.Factory(
        RateLimit, amount=settings.provided.login_attempts_per_minute, per_seconds=60
    )
    request_limit_per_address = providers.Factory(
        RateLimit, amount=settings.provided.requests_per_minute_per_ip, per_seconds=60
    )
    twilio_signature_failure_limit = providers.Factory(
        RateLimit, amount=settings.provided.twilio_signature_failures_per_minute, per_seconds=60
    )
    meta_signature_failure_limit = providers.Factory(
        RateLimit, amount=settings.provided.meta_signature_failures_per_minute, per_seconds=60
    )

    # The sandbox's status reports follow its sends: background work, on the background pool.
    record_status_change = providers.Factory(
        RecordStatusChange, background_unit_of_work, clock, metrics=metrics, provider=ProviderName.SANDBOX
    )

    sandbox_provider = providers.Singleton(
        SandboxMessagingProvider,
        listener=providers.Callable(_report_to, record_status_change.provider),
        sent_after_seconds=settings.provided.sandbox_sent_after_seconds,
        delivered_after_seconds=settings.provided.sandbox_delivered_after_seconds,
    )
    twilio_provider = providers.Singleton(
        TwilioMessagingProvider,
        timeout_seconds=settings.provided.provider_timeout_seconds,
        api_base_url=settings.provided.twilio_api_base_url,
        public_base_url=settings.provided.public_base_url,
    )
    meta_provider = providers.Singleton(
        MetaMessagingProvider,
        timeout_seconds=settings.provided.provider_timeout_seconds,
        api_base_url=settings.provided.meta_graph_api_base_url,
        download_timeout_seconds=settings.provided.media_download_timeout_seconds,
    )
    messaging_provider = providers.Singleton(
        ProviderRouter,
        providers.Dict(
            {
                ProviderName.SANDBOX: sandbox_provider,
                ProviderName.TWILIO: twilio_provider,
                ProviderName.META: meta_provider,
            }
        ),
    )

    dispatch_message = providers.Singleton(
        DispatchMessage,
        background_unit_of_work.provider,
        messaging_provider,
        clock,
        providers.Callable(_dispatch_settings, settings),
        metrics=metrics,
    )
    dispatcher = providers.Singleton(
        Dispatcher,
        background_unit_of_work.provider,
        dispatch_message,
        clock,
        providers.Callable(_dispatcher_settings, settings),
    )

    session_policy = providers.Factory(
        lambda seconds: SessionPolicy(lifetime=timedelta(seconds=seconds)),
        settings.provided.refresh_token_ttl_seconds,
    )
    authenticate = providers.Factory(
        Authenticate,
        unit_of_work,
        password_hasher,
        token_service,
        rate_limiter,
        login_failure_limit,
        clock,
        session_policy,
    )
    # Sessions and access control.
    resolve_principal = providers.Factory(
        ResolvePrincipal,
        unit_of_work,
        token_service,
        clock,
        reads=read_unit_of_work,
        cache=providers.Callable(_as_access_cache, access_cache),
    )
    refresh_session = providers.Factory(RefreshSession, unit_of_work, token_service, clock)
    logout = providers.Factory(Logout, unit_of_work, clock)
    change_own_password = providers.Factory(
        ChangeOwnPassword, unit_of_work, password_hasher, clock, rate_limiter, login_failure_limit
    )
    purge_expired_sessions = providers.Factory(PurgeExpiredSessions, background_unit_of_work, clock)
    # Platform administration.
    ensure_platform_tenant = providers.Factory(EnsurePlatformTenant, unit_of_work, clock)
    list_tenants = providers.Factory(ListTenants, unit_of_work)
    get_tenant = providers.Factory(GetTenant, unit_of_work)
    update_tenant = providers.Factory(UpdateTenant, unit_of_work, clock)
    suspend_tenant = providers.Factory(SuspendTenant, unit_of_work, clock)
    reactivate_tenant = providers.Factory(ReactivateTenant, unit_of_work, clock)
    # Tenant administration.
    list_users = providers.Factory(ListUsers, unit_of_work)
    get_user = providers.Factory(GetUser, unit_of_work)
    update_user = providers.Factory(UpdateUser, unit_of_work, password_hasher, clock)
    list_senders = providers.Factory(ListSenders, unit_of_work)
    # How often a transaction the database gave up for a concurrent one is run again (transactions.py).
    conflict_retry = providers.Singleton(ConflictRetry)
    update_sender = providers.Factory(UpdateSender, unit_of_work, conflict_retry)
    remove_sender = providers.Factory(RemoveSender, unit_of_work, conflict_retry)
    get_credentials_summary = providers.Factory(GetCredentialsSummary, unit_of_work)
    set_twilio_credentials = providers.Factory(SetTwilioCredentials, unit_of_work, clock)
    list_provider_accounts = providers.Factory(ListProviderAccounts, unit_of_work)
    get_provider_account = providers.Factory(GetProviderAccount, unit_of_work)
    add_provider_account = providers.Factory(AddProviderAccount, unit_of_work, clock)
    update_provider_account = providers.Factory(UpdateProviderAccount, unit_of_work, clock)
    remove_provider_account = providers.Factory(RemoveProviderAccount, unit_of_work, clock)
    list_api_keys = providers.Factory(ListApiKeys, unit_of_work)
    create_api_key = providers.Factory(CreateApiKey, unit_of_work, clock)
    revoke_api_key = providers.Factory(RevokeApiKey, unit_of_work, clock)
    # What a tenant may send (POST /api/send and retries alike).
    tenant_send_limits = providers.Singleton(
        TenantSendLimits,
        rate_limiter,
        sends_per_minute=settings.provided.tenant_sends_per_minute,
        sends_per_day=settings.provided.tenant_sends_per_day,
    )
    # What the console's limits page shows a tenant admin: the same figures the code above enforces.
    get_tenant_limits = providers.Factory(
        GetTenantLimits,
        read_unit_of_work,
        tenant_send_limits,
        providers.Callable(_gateway_limits, settings),
    )
    sending_profiles = providers.Singleton(
        _sending_profiles, access_cache, settings.provided.access_cache_seconds
    )
    kept_catalogue = providers.Singleton(
        _kept_catalogue, access_cache, settings.provided.access_cache_seconds
    )
    send_message = providers.Factory(
        SendMessage,
        unit_of_work,
        dispatcher,
        clock,
        wait_seconds=settings.provided.send_wait_seconds,
        metrics=metrics,
        provider=messaging_provider,
        send_limits=tenant_send_limits,
        sending_profiles=sending_profiles,
        catalogue=kept_catalogue,
    )
    retry_message = providers.Factory(
        RetryMessage, unit_of_work, dispatcher, clock, send_limits=tenant_send_limits
    )
    mark_message_read = providers.Factory(MarkMessageRead, unit_of_work, messaging_provider)
    list_history = providers.Factory(ListHistory, read_unit_of_work)
    get_message = providers.Factory(GetMessage, read_unit_of_work)
    list_scheduled = providers.Factory(ListScheduled, read_unit_of_work)
    reschedule_message = providers.Factory(RescheduleMessage, unit_of_work, clock)
    cancel_scheduled = providers.Factory(CancelScheduled, unit_of_work, clock)
    list_conversations = providers.Factory(ListConversations, read_unit_of_work, clock)
    get_conversation = providers.Factory(GetConversation, read_unit_of_work)
    mark_conversation_seen = providers.Factory(MarkConversationSeen, unit_of_work)
    list_sendable_templates = providers.Factory(ListSendableTemplates, read_unit_of_work)

    # Campaigns. Contacts and consent are other features' stores: until they are bound here, a contacts
    # audience finds nobody and nobody has opted out.
    create_campaign = providers.Factory(CreateCampaign, unit_of_work, clock)
    upload_campaign_audience = providers.Factory(UploadCampaignAudience, unit_of_work, clock)
    get_campaign = providers.Factory(GetCampaign, read_unit_of_work)
    list_campaigns = providers.Factory(ListCampaigns, read_unit_of_work)
    list_campaign_recipients = providers.Factory(ListCampaignRecipients, read_unit_of_work)
    pause_campaign = providers.Factory(PauseCampaign, unit_of_work, clock)
    resume_campaign = providers.Factory(ResumeCampaign, unit_of_work, clock)
    cancel_campaign = providers.Factory(CancelCampaign, unit_of_work, clock)
    campaign_runner = providers.Singleton(
        CampaignRunner,
        background_unit_of_work.provider,
        clock,
        providers.Callable(_campaign_runner_settings, settings),
        notify_dispatch=dispatcher.provided.notify,
    )
    read_inbox_changes = providers.Factory(ReadInboxChanges, read_unit_of_work)
    # The console inbox's live views: one poll of the database per tenant in this process.
    inbox_feed = providers.Singleton(InboxFeed, read_inbox_changes.provider, clock)
    # The dashboards: a tenant's (agents, tenant admins) and the platform's usage (platform admins).
    read_dashboard = providers.Factory(ReadDashboard, read_unit_of_work, clock)
    read_platform_usage = providers.Factory(ReadPlatformUsage, read_unit_of_work, clock)
    # Probes and scrapes are never rate limited: each of these keeps its answer a second, shared.
    check_readiness = providers.Singleton(CheckReadiness, unit_of_work.provider)
    measure_dispatch_queue = providers.Singleton(
        MeasureDispatchQueue, background_unit_of_work.provider, clock, metrics
    )
    create_tenant = providers.Factory(CreateTenant, unit_of_work, clock)
    add_sender = providers.Factory(AddSender, unit_of_work, clock)
    create_user = providers.Factory(CreateUser, unit_of_work, password_hasher, clock)
    provision_demo = providers.Factory(ProvisionDemo, unit_of_work, password_hasher, clock)
    reseal_credentials = providers.Factory(ResealCredentials, unit_of_work)
    purge_idempotency_keys = providers.Factory(PurgeIdempotencyKeys, background_unit_of_work, clock)
    # The audit trail: tenant admins read their tenant's, platform admins every tenant's.
    list_audit_trail = providers.Factory(ListAuditTrail, read_unit_of_work)
    list_platform_audit_trail = providers.Factory(ListPlatformAuditTrail, read_unit_of_work)
    purge_audit_log = providers.Factory(
        PurgeAuditLog,
        background_unit_of_work,
        clock,
        retention=providers.Callable(_days, settings.provided.audit_retention_days),
    )

    # Provider callbacks: Twilio's and Meta's, read by their adapters into our commands.
    # Who signs configured numbers' webhooks, read once a few seconds for every webhook of the process,
    # and trusted without a query while the access cache vouches nothing changed since.
    twilio_signers = providers.Singleton(
        TwilioSigners, unit_of_work.provider, version=providers.Callable(_signers_version, access_cache)
    )
    twilio_inbound_messages = providers.Factory(
        TwilioInboundMessages, failure_limit=twilio_signature_failure_limit, signers=twilio_signers
    )
    twilio_status_callbacks = providers.Factory(
        TwilioStatusCallbacks, failure_limit=twilio_signature_failure_limit, signers=twilio_signers
    )
    receive_twilio_message = providers.Factory(
        ReceiveInboundMessage, unit_of_work, twilio_inbound_messages, clock, limiter=rate_limiter
    )
    record_twilio_status = providers.Factory(
        RecordStatusReport, unit_of_work, twilio_status_callbacks, clock, metrics, limiter=rate_limiter
    )
    # Every Meta account's app secret and verify token and every Meta number's sender, read once a few
    # seconds for every webhook, and trusted to route without a query while the access cache vouches.
    meta_apps = providers.Singleton(
        MetaApps, unit_of_work.provider, version=providers.Callable(_signers_version, access_cache)
    )
    meta_deliveries = providers.Factory(
        MetaDeliveries, failure_limit=meta_signature_failure_limit, apps=meta_apps
    )
    meta_subscription_checks = providers.Factory(
        MetaSubscriptionChecks, failure_limit=meta_signature_failure_limit, apps=meta_apps
    )
    # Meta's template status and quality webhooks come in the same deliveries as messages.
    apply_template_status_update = providers.Factory(ApplyTemplateStatusUpdate, unit_of_work, clock)
    # … and so do its numbers' quality and messaging-limit changes, which pause their campaigns.
    pause_campaigns_of_degraded_sender = providers.Factory(
        PauseCampaignsOfDegradedSender, unit_of_work, clock
    )
    receive_meta_delivery = providers.Factory(
        ReceiveProviderDelivery,
        unit_of_work,
        meta_deliveries,
        clock,
        metrics,
        limiter=rate_limiter,
        template_updates=apply_template_status_update,
        sender_quality=pause_campaigns_of_degraded_sender,
    )
    answer_meta_subscription_check = providers.Factory(
        AnswerSubscriptionCheck, unit_of_work, meta_subscription_checks, limiter=rate_limiter
    )

    # Tenant webhooks: endpoints managed over the API, deliveries sent by the webhook worker.
    webhook_destination_policy = providers.Singleton(
        DestinationPolicy, allow_private_networks=settings.provided.webhooks_allow_private_networks
    )
    webhook_url_guard = providers.Singleton(ResolvingWebhookUrlGuard, webhook_destination_policy)
    aiohttp_webhook_sender = providers.Singleton(
        AiohttpWebhookSender,
        timeout_seconds=settings.provided.webhook_timeout_seconds,
        policy=webhook_destination_policy,
    )
    # The port, bound to the adapter above (tests override this one; shutdown closes the adapter).
    webhook_sender = providers.Callable(_itself, aiohttp_webhook_sender)
    deliver_webhook = providers.Singleton(
        DeliverWebhook,
        background_unit_of_work.provider,
        webhook_sender,
        clock,
        providers.Callable(_webhook_delivery_settings, settings),
        metrics=metrics,
        reads=background_read_unit_of_work.provider,
    )
    webhook_worker = providers.Singleton(
        WebhookWorker,
        background_unit_of_work.provider,
        deliver_webhook,
        clock,
        providers.Callable(_webhook_worker_settings, settings),
    )
    register_webhook_endpoint = providers.Factory(
        RegisterWebhookEndpoint, unit_of_work, webhook_url_guard, clock
    )
    list_webhook_endpoints = providers.Factory(ListWebhookEndpoints, unit_of_work)
    get_webhook_endpoint = providers.Factory(GetWebhookEndpoint, unit_of_work)
    update_webhook_endpoint = providers.Factory(UpdateWebhookEndpoint, unit_of_work, webhook_url_guard, clock)
    delete_webhook_endpoint = providers.Factory(DeleteWebhookEndpoint, unit_of_work)
    rotate_webhook_secret = providers.Factory(
        RotateWebhookSecret,
        unit_of_work,
        clock,
        default_overlap=providers.Callable(_seconds, settings.provided.webhook_secret_overlap_seconds),
    )
    list_webhook_deliveries = providers.Factory(ListWebhookDeliveries, unit_of_work)
    get_webhook_delivery = providers.Factory(GetWebhookDelivery, unit_of_work)
    replay_webhook_delivery = providers.Factory(ReplayWebhookDelivery, unit_of_work, clock)
    purge_webhook_deliveries = providers.Factory(
        PurgeWebhookDeliveries,
        background_unit_of_work,
        clock,
        retention=providers.Callable(_days, settings.provided.webhook_retention_days),
    )

    # Media customers send (application/ports/media_store.py), where MEDIA_STORE says.
    local_media_store = providers.Singleton(
        LocalMediaStore, settings.provided.resolved_media_dir, max_bytes=settings.provided.media_max_bytes
    )
    s3_media_store = providers.Singleton(
        _s3_media_store,
        bucket=settings.provided.media_s3_bucket,
        max_bytes=settings.provided.media_max_bytes,
        endpoint_url=settings.provided.media_s3_endpoint_url,
        region=settings.provided.media_s3_region,
        access_key_id=settings.provided.media_s3_access_key_id,
        secret_access_key=settings.provided.media_s3_secret_access_key,
        prefix=settings.provided.media_s3_prefix,
        path_style=settings.provided.media_s3_path_style,
    )
    # The port (tests override this one; shutdown closes the S3 client if it was chosen).
    media_store = providers.Selector(
        settings.provided.media_store, local=local_media_store, s3=s3_media_store
    )
    # Inbound media: fetched from the provider of the message's sender by the media worker, kept in the
    # media store, served at GET /api/media/{id}.
    twilio_media_fetcher = providers.Singleton(
        TwilioMediaFetcher,
        api_base_url=settings.provided.twilio_api_base_url,
        timeout_seconds=settings.provided.media_download_timeout_seconds,
    )
    # The port (tests override this one).
    inbound_media_fetcher = providers.Singleton(
        InboundMediaRouter,
        providers.Dict({ProviderName.TWILIO: twilio_media_fetcher, ProviderName.META: meta_provider}),
    )
    download_inbound_media = providers.Singleton(
        DownloadInboundMedia,
        background_unit_of_work.provider,
        inbound_media_fetcher,
        media_store,
        clock,
        providers.Callable(_media_download_settings, settings),
    )
    media_downloader = providers.Singleton(
        MediaDownloader,
        background_unit_of_work.provider,
        download_inbound_media,
        clock,
        providers.Callable(_media_worker_settings, settings),
    )
    open_media = providers.Factory(OpenMedia, read_unit_of_work, media_store)
    # Retention and a person's rights over their data (tenant admins); the batches run with housekeeping.
    get_retention_policy = providers.Factory(GetRetentionPolicy, read_unit_of_work)
    set_retention_policy = providers.Factory(SetRetentionPolicy, unit_of_work, clock)
    apply_retention = providers.Factory(ApplyRetention, background_unit_of_work, media_store, clock)
    erase_contact_data = providers.Factory(EraseContactData, unit_of_work, media_store, clock)
    export_contact_data = providers.Factory(ExportContactData, unit_of_work, clock)

    # Message templates: the tenant's catalogue, kept at each provider account's own catalogue (the
    # sandbox's for a tenant without accounts).
    sandbox_templates = providers.Singleton(SandboxTemplateProvider)
    twilio_templates = providers.Singleton(
        TwilioTemplateProvider,
        timeout_seconds=settings.provided.provider_timeout_seconds,
        api_base_url=settings.provided.twilio_api_base_url,
    )
    meta_templates = providers.Singleton(
        MetaTemplateProvider,
        timeout_seconds=settings.provided.provider_timeout_seconds,
        api_base_url=settings.provided.meta_graph_api_base_url,
    )
    template_providers = providers.Singleton(
        TemplateProviderRouter, sandbox_templates, twilio=twilio_templates, meta=meta_templates
    )
    create_template = providers.Factory(CreateTemplate, unit_of_work, template_providers, clock)
    list_templates = providers.Factory(ListTemplates, read_unit_of_work)
    get_template = providers.Factory(GetTemplate, read_unit_of_work)
    delete_template = providers.Factory(DeleteTemplate, unit_of_work, template_providers, clock)
    preview_template = providers.Factory(PreviewTemplate, read_unit_of_work)
    sync_templates = providers.Factory(SyncTemplates, unit_of_work, template_providers, clock)
    sync_all_templates = providers.Factory(
        SyncAllTemplates,
        background_unit_of_work,
        sync_templates,
        clock,
        every=providers.Callable(_seconds, settings.provided.template_sync_seconds),
    )
    export_templates = providers.Factory(ExportTemplates, read_unit_of_work)
    plan_templates = providers.Factory(PlanTemplates, read_unit_of_work)
    apply_templates = providers.Factory(ApplyTemplates, unit_of_work, template_providers, clock)
    resolve_tenant = providers.Factory(ResolveTenant, unit_of_work)

    # The contact book: each tenant's contacts, kept by messages too (receive_message, the accept).
    list_contacts = providers.Factory(ListContacts, read_unit_of_work)
    get_contact = providers.Factory(GetContact, read_unit_of_work)
    create_contact = providers.Factory(CreateContact, unit_of_work, clock)
    update_contact = providers.Factory(UpdateContact, unit_of_work, clock)
    delete_contact = providers.Factory(DeleteContact, unit_of_work, clock)
    import_contacts = providers.Factory(ImportContacts, unit_of_work, clock)
    export_contacts = providers.Factory(ExportContacts, read_unit_of_work)
    # Consent: each person's opt-out or opt-in, the ledger of changes, the tenant's policy.
    get_consent = providers.Factory(GetConsent, read_unit_of_work)
    set_consent = providers.Factory(SetConsent, unit_of_work, clock)
    list_consent_ledger = providers.Factory(ListConsentLedger, read_unit_of_work)
    get_consent_policy = providers.Factory(GetConsentPolicy, read_unit_of_work)
    set_consent_policy = providers.Factory(SetConsentPolicy, unit_of_work, clock)


async def shutdown(container: Container) -> None:
    """Close what the Singletons opened: provider sessions first, then the database pool."""
    # Building an unused Singleton here is cheap: none of them connects before first use.
    await container.sandbox_provider().aclose()
    await container.twilio_provider().aclose()
    await container.meta_provider().aclose()
    await container.twilio_templates().aclose()
    await container.meta_templates().aclose()
    await container.twilio_media_fetcher().aclose()
    await container.aiohttp_webhook_sender().aclose()
    if container.settings().media_store == "s3":
        await container.s3_media_store().aclose()
    background_engine = container.background_engine()
    if background_engine is not container.engine():
        await background_engine.dispose()
    await container.engine().dispose()


def create_container(settings: Settings) -> Container:
    return Container(settings=settings)


def prepare_metrics_directory() -> str | None:
    """Multi-process metrics (PROMETHEUS_MULTIPROC_DIR): start from an empty directory; the directory."""
    return clear_multiprocess_directory()


def upgrade_database(url: str) -> None:
    """Apply every migration (synchronously, before any event loop or server starts)."""
    # Imported here, as the S3 store and the Redis client are: a serving process never loads Alembic.
    from adapters.database.migrate import upgrade

    upgrade(url)


def create_worker_container(settings: Settings) -> Container:
    """A ``wa-gateway worker``'s container. It answers no requests, so nothing needs its one pool to
    refuse fast: its work waits for a connection as the background pool's does, and no second pool is
    opened for an embedded dispatcher (the whole process is one). Twilio's REST client, which API
    processes load on their first send, is loaded now: dispatching is what a worker is for."""
    load_rest_client()
    return create_container(
        msgspec.structs.replace(
            settings,
            embedded_dispatcher=False,
            db_pool_timeout_ms=int(_BACKGROUND_POOL_TIMEOUT_SECONDS * 1000),
        )
    )


def grant_database_app_role(owner_url: str, role: str, *, create_with_password: str | None = None) -> None:
    """As the owner: let ``role`` use every table (and the tables of later migrations), nothing more."""
    try:
        grant_app_role(owner_url, role, create_with_password=create_with_password)
    except RoleNotUsable as error:
        raise ConfigurationError(str(error)) from error


async def warn_unless_row_level_security_binds(container: Container) -> bool | None:
    """Log loudly when the connected role escapes row-level security; None on SQLite or if unknown."""
    try:
        check = await inspect_connected_role(container.engine())
    except Exception:
        # Not a reason to refuse to start: /readyz reports the database, and the next start checks again.
        logger.warning("could not check the database role for row-level security", exc_info=True)
        return None
    if check is None:
        return None
    if check.problems:
        logger.warning(
            "the database role %r %s: row-level security is %s; connect with a role prepared by "
            "`wa-gateway db grant-app-role` and migrate with MIGRATION_DATABASE_URL",
            check.name,
            " and ".join(check.problems),
            "NOT in force" if not check.rls_in_force else "in force but not guaranteed",
        )
    return check.rls_in_force
