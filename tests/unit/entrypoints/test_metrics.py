"""Metrics: what the application reports through its Metrics port, and what GET /metrics shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from adapters.metrics.prometheus import PrometheusMetrics
from application.inbound.delivery_status import RecordStatusChange
from application.messaging.dispatch_message import DispatchMessage, DispatchSettings
from application.operations.measurements import MeasureDispatchQueue
from application.ports.dispatch_queue import DispatchJob, JobPhase
from application.ports.messages import StatusChange
from application.ports.providers import LookupResult, OutcomeKind, ProviderLookup, SendOutcome
from domain.messaging.messages import MessageStatus
from entrypoints.settings import ConfigurationError, load_settings
from tests.support.api import Api, MakeApi
from tests.support.fakes import FakeMessagingProvider, FakeMetrics, FakeUnitOfWork, FixedClock, TenantAccount
from tests.support.use_cases import OWNER, accept

BODY = {"to_number": "+14155550123", "body": "Your order has shipped"}


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels`` (0 if there are none)."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and labels.items() <= found.labels.items():
                total += found.value
    return total


def has_sample(text: str, name: str) -> bool:
    families = text_string_to_metric_families(text)
    return any(found.name == name for family in families for found in family.samples)


async def scrape(api: Api) -> str:
    response = await api.client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return response.text


# ------------------------------------------------------------------------------------- over HTTP


async def test_messages_provider_calls_and_requests_are_counted_as_messages_flow(api: Api) -> None:
    headers = await api.login(api.acme)

    sent = await api.send(headers, **BODY)
    api.provider.will_return(SendOutcome(kind=OutcomeKind.REJECTED, error_code=21211, reason="Invalid 'To'"))
    refused = await api.send(headers, **BODY)
    text = await scrape(api)

    assert (sent.status_code, refused.status_code) == (201, 201)
    assert refused.json()["status"] == "failed"
    messages = "wa_gateway_messages_total"
    assert sample(text, messages, provider="sandbox", status="accepted") == 2
    assert sample(text, messages, provider="sandbox", status="queued") == 1
    assert sample(text, messages, provider="sandbox", status="failed") == 1
    calls = "wa_gateway_provider_call_duration_seconds_count"
    assert sample(text, calls, provider="sandbox", operation="send", outcome="accepted") == 1
    assert sample(text, calls, provider="sandbox", operation="send", outcome="rejected") == 1
    requests = "wa_gateway_http_requests_total"
    assert sample(text, requests, method="POST", route="/api/send", status="201") == 2
    assert sample(text, requests, method="POST", route="/auth/login", status="200") == 1
    assert sample(text, "wa_gateway_http_request_duration_seconds_count", route="/api/send") == 2


async def test_requests_are_labelled_by_route_template_not_by_path(api: Api) -> None:
    headers = await api.login(api.acme)
    for _ in range(3):
        await api.client.get(f"/api/messages/{uuid4()}", headers=headers)

    text = await scrape(api)

    route = "/api/messages/{message_id}"
    assert sample(text, "wa_gateway_http_requests_total", route=route, status="404") == 3
    assert "/api/messages/" + "0" not in text  # no series per id


async def test_the_queue_depth_and_oldest_job_age_are_measured_at_each_scrape(api: Api) -> None:
    # Measured afresh at every scrape here; in service, at most once a second (test_readiness.py).
    api.container.measure_dispatch_queue.override(
        providers.Singleton(
            MeasureDispatchQueue,
            api.container.unit_of_work.provider,
            api.container.clock,
            api.container.metrics,
            max_age_seconds=0,
        )
    )
    uow = FakeUnitOfWork(api.database)
    now = datetime.now(UTC)
    async with uow:
        for age in (90, 30, 10):
            await uow.jobs.enqueue(
                DispatchJob(
                    message_id=uuid4(),
                    tenant_id=api.acme.tenant.id,
                    sender=api.acme.sender.phone_number,
                    available_at=now + timedelta(hours=1),  # not due: the dispatcher leaves them
                    created_at=now - timedelta(seconds=age),
                )
            )
        await uow.commit()

    waiting = await scrape(api)
    async with uow:
        for job in uow.jobs.all():
            await uow.jobs.complete(job.message_id, owner=None)
        await uow.commit()
    drained = await scrape(api)

    assert sample(waiting, "wa_gateway_dispatch_queue_depth") == 3
    assert 90 <= sample(waiting, "wa_gateway_dispatch_queue_oldest_job_age_seconds") < 120
    assert sample(drained, "wa_gateway_dispatch_queue_depth") == 0
    assert sample(drained, "wa_gateway_dispatch_queue_oldest_job_age_seconds") == 0


async def test_rate_limit_rejections_are_counted_by_limit(api: Api) -> None:
    wrong = {"username": "alice", "password": "not-the-password"}
    statuses = [(await api.client.post("/auth/login", json=wrong)).status_code for _ in range(7)]

    text = await scrape(api)

    refused = statuses.count(429)
    assert refused >= 1
    assert sample(text, "wa_gateway_rate_limited_total", scope="login") == refused
    assert sample(text, "wa_gateway_http_requests_total", route="/auth/login", status="429") == refused


@pytest.fixture
async def guarded(make_api: MakeApi) -> AsyncTestClient[Any]:
    return (await make_api(METRICS_TOKEN="scrape-me-please")).client


async def test_with_a_metrics_token_only_its_bearer_may_scrape(guarded: AsyncTestClient[Any]) -> None:
    anonymous = await guarded.get("/metrics")
    wrong = await guarded.get("/metrics", headers={"Authorization": "Bearer not-it"})
    right = await guarded.get("/metrics", headers={"Authorization": "Bearer scrape-me-please"})

    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert has_sample(right.text, "wa_gateway_dispatch_queue_depth")


# ------------------------------------------------------------------------------- the adapter


def test_no_tenant_label_by_default() -> None:
    metrics = PrometheusMetrics()
    metrics.message_accepted("sandbox", uuid4())

    text = metrics.exposition()[0].decode()

    assert 'wa_gateway_messages_total{provider="sandbox",status="accepted"} 1.0' in text
    assert "tenant=" not in text


def test_an_allow_list_labels_those_tenants_and_groups_the_rest() -> None:
    listed, unlisted, also_unlisted = uuid4(), uuid4(), uuid4()
    metrics = PrometheusMetrics(tenant_labels=f"{listed}")
    metrics.message_accepted("twilio", listed)
    metrics.message_status("twilio", MessageStatus.DELIVERED, unlisted)
    metrics.message_status("twilio", MessageStatus.DELIVERED, also_unlisted)
    metrics.webhook_delivery("delivered", listed)

    text = metrics.exposition()[0].decode()

    assert sample(text, "wa_gateway_messages_total", tenant=str(listed), status="accepted") == 1
    assert sample(text, "wa_gateway_messages_total", tenant="other", status="delivered") == 2
    assert sample(text, "wa_gateway_webhook_deliveries_total", tenant=str(listed), outcome="delivered") == 1
    assert str(unlisted) not in text


def test_true_labels_every_tenant() -> None:
    tenant = uuid4()
    metrics = PrometheusMetrics(tenant_labels="true")
    metrics.message_accepted("sandbox", tenant)

    assert sample(metrics.exposition()[0].decode(), "wa_gateway_messages_total", tenant=str(tenant)) == 1


def test_a_tenant_label_setting_that_is_not_a_list_of_ids_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="METRICS_TENANT_LABELS"):
        load_settings(
            environ={"DATA_DIR": str(tmp_path), "METRICS_TENANT_LABELS": "acme,globex"}, env_file=None
        )


def test_each_instance_has_its_own_registry() -> None:
    first, second = PrometheusMetrics(), PrometheusMetrics()
    first.rate_limited("address")

    assert sample(first.exposition()[0].decode(), "wa_gateway_rate_limited_total") == 1
    assert sample(second.exposition()[0].decode(), "wa_gateway_rate_limited_total") == 0


def test_an_unmeasured_queue_is_absent_rather_than_stale() -> None:
    metrics = PrometheusMetrics()
    metrics.dispatch_queue(5, 12.0)
    metrics.dispatch_queue(None, None)

    assert not has_sample(metrics.exposition()[0].decode(), "wa_gateway_dispatch_queue_depth")


# ---------------------------------------------------------------------------- the use cases


async def test_dispatch_reports_each_provider_call_and_the_status_it_recorded(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    metrics = FakeMetrics()
    dispatch = DispatchMessage(
        lambda: FakeUnitOfWork(uow.database), provider, clock, DispatchSettings(), metrics=metrics
    )
    message = await accept(uow, acme, clock)
    async with uow:
        (job,) = await uow.jobs.claim_due(owner=OWNER, now=clock.now(), lease_seconds=60, limit=10)
        await uow.commit()

    await dispatch(job, OWNER)

    assert metrics.named("provider_call") == [("sandbox", "send", "accepted")]
    assert metrics.named("message_status") == [("sandbox", MessageStatus.QUEUED, message.tenant_id)]


async def test_a_reconciling_lookup_is_reported_as_a_provider_call(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    metrics = FakeMetrics()
    dispatch = DispatchMessage(
        lambda: FakeUnitOfWork(uow.database), provider, clock, DispatchSettings(), metrics=metrics
    )
    message = await accept(uow, acme, clock)
    provider.lookup_result = ProviderLookup(
        result=LookupResult.FOUND, provider_sid="SM" + "a" * 32, status=MessageStatus.SENT
    )
    async with uow:
        await uow.jobs.claim(message.id, owner=OWNER, now=clock.now(), lease_seconds=60)
        await uow.jobs.reschedule(
            message.id,
            owner=OWNER,
            attempts=1,
            phase=JobPhase.RECONCILE,
            available_at=clock.now(),
            last_error="no answer",
            unconfirmed_since=clock.now(),
        )
        (job,) = await uow.jobs.claim_due(owner=OWNER, now=clock.now(), lease_seconds=60, limit=10)
        await uow.commit()

    await dispatch(job, OWNER)

    assert metrics.named("provider_call") == [("sandbox", "lookup", "found")]
    assert metrics.named("message_status") == [("sandbox", MessageStatus.SENT, message.tenant_id)]


async def test_applied_status_reports_are_counted_and_stale_ones_are_not(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    metrics = FakeMetrics()
    message = await accept(uow, acme, clock)
    sid = "SM" + "b" * 32
    await uow.messages.update(message.handed_to_provider(sid, MessageStatus.QUEUED, clock.now()))
    record = RecordStatusChange(uow, clock, metrics=metrics, provider="sandbox")

    await record(StatusChange(provider_sid=sid, status=MessageStatus.DELIVERED))
    await record(StatusChange(provider_sid=sid, status=MessageStatus.SENT))  # late: changes nothing

    assert metrics.named("message_status") == [("sandbox", MessageStatus.DELIVERED, message.tenant_id)]


async def test_measuring_the_queue_hands_depth_and_age_to_the_metrics(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock
) -> None:
    metrics = FakeMetrics()
    await accept(uow, acme, clock)
    clock.advance(timedelta(seconds=42))

    await MeasureDispatchQueue(lambda: uow, clock, metrics)()

    assert metrics.named("dispatch_queue") == [(1, 42.0)]
