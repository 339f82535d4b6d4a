"""The providers' emulators as processes beside a deployment (``GatewayProcesses``): ``wa-gateway
twilio-emulator`` in place of Twilio, ``wa-gateway meta-emulator`` in place of Meta's Cloud API, each
driven through its control API (``/_emulator/*``).

Both answer what the dispatch tests ask of a provider — which messages it created, with which body, and
whether the answer to the request that created one was lost (``CreatedMessage``) — and both make
customers write to the tenant's number, which opens their 24-hour windows.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.gateways import (
    READY_TIMEOUT_SECONDS,
    WA_GATEWAY,
    ManagedProcess,
    clean_environment,
    free_port,
    wait_until_answering,
)

# Customers' webhooks posted at once while windows open: the gateway's first API process takes them.
INBOUND_CONCURRENCY = 16


@dataclass(frozen=True, slots=True)
class CreatedMessage:
    """A message the emulator created (what the provider would deliver), from the request that created it."""

    sid: str  # Twilio's SID, Meta's wamid
    to: str
    from_: str  # the sender: Twilio's From, Meta's phone-number id
    body: str
    outcome: str  # "created", or the failure that struck after creating it (a lost answer)
    # Meta: our message id as the send gave it (biz_opaque_callback_data), which its status webhooks carry
    callback_data: str | None = None
    # Meta: whether one of its status webhooks reached the gateway (answered 2xx)
    reported: bool | None = None


class EmulatorProcess(ABC):
    """An emulator process and an HTTP client of its control API."""

    def __init__(self, process: ManagedProcess, base_url: str) -> None:
        self.process = process
        self.base_url = base_url
        self._http = httpx.AsyncClient(base_url=base_url, timeout=60, trust_env=False)

    @property
    @abstractmethod
    def gateway_settings(self) -> dict[str, str]:
        """The settings that point a gateway at this emulator instead of the provider."""

    @abstractmethod
    async def created_messages(self) -> list[CreatedMessage]:
        """Every message the emulator created, whether or not its creator heard back."""

    @abstractmethod
    async def open_session_windows(self, gateway_url: str, sender: str, contacts: Sequence[str]) -> None:
        """Each of ``contacts`` writes to ``sender`` (a signed webhook to the gateway at ``gateway_url``):
        their 24-hour windows open."""

    async def patch_faults(self, **changes: Any) -> dict[str, Any]:
        return await self._patch("/_emulator/faults", changes)

    async def patch_callbacks(self, **changes: Any) -> dict[str, Any]:
        return await self._patch("/_emulator/callbacks", changes)

    async def stats(self) -> dict[str, int]:
        body = await self._get("/_emulator/stats")
        return {**body["stats"], "messages": body["messages"]}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _patch(self, path: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        response = await self._http.patch(path, json=dict(changes))
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def _get(self, path: str) -> dict[str, Any]:
        response = await self._http.get(path)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def _post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        response = await self._http.post(path, json=dict(body))
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


async def each_writes(contacts: Sequence[str], write: Callable[[str], Awaitable[dict[str, Any]]]) -> None:
    """``write`` for each contact, a few at a time; fails unless the gateway took every webhook (200)."""
    limit = asyncio.Semaphore(INBOUND_CONCURRENCY)

    async def one(contact: str) -> None:
        async with limit:
            delivery = await write(contact)
        if delivery["http_status"] != 200:
            raise RuntimeError(f"the inbound webhook from {contact} was refused: {delivery}")

    await asyncio.gather(*(one(contact) for contact in contacts))


def _start(command: str, arguments: Sequence[str], log_dir: Path) -> tuple[ManagedProcess, str]:
    """``wa-gateway <command>`` on a free port (its output in <command>.log); its base URL once it answers."""
    port = free_port()
    process = ManagedProcess(
        command, [WA_GATEWAY, command, "--port", str(port), *arguments], clean_environment(), log_dir
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{base_url}/_emulator/health", [process], READY_TIMEOUT_SECONDS)
    except Exception:
        process.stop()
        raise
    return process, base_url


# -- Twilio ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TwilioAccount:
    sid: str
    token: str

    @classmethod
    def new(cls) -> TwilioAccount:
        return cls(sid="AC" + uuid.uuid4().hex, token=secrets.token_urlsafe(24))


class TwilioEmulator(EmulatorProcess):
    def __init__(self, process: ManagedProcess, base_url: str, account: TwilioAccount) -> None:
        super().__init__(process, base_url)
        self.account = account

    @property
    def gateway_settings(self) -> dict[str, str]:
        return {"TWILIO_API_BASE_URL": self.base_url}

    async def created_messages(self) -> list[CreatedMessage]:
        created = []
        for record in (await self._get("/_emulator/messages"))["messages"]:
            if record["method"] != "POST" or not record["message_sid"]:
                continue
            form = record["form"]
            created.append(
                CreatedMessage(
                    sid=record["message_sid"],
                    to=form.get("To", [""])[-1],
                    from_=form.get("From", [""])[-1],
                    body=form.get("Body", [""])[-1],
                    outcome=record["outcome"],
                )
            )
        return created

    async def open_session_windows(self, gateway_url: str, sender: str, contacts: Sequence[str]) -> None:
        async def write(contact: str) -> dict[str, Any]:
            return await self._post(
                "/_emulator/inbound",
                {
                    "url": f"{gateway_url}/webhooks/twilio/inbound",
                    "from": f"whatsapp:{contact}",
                    "to": f"whatsapp:{sender}",
                    "body": "hello",
                    "account_sid": self.account.sid,
                },
            )

        await each_writes(contacts, write)


def start_twilio_emulator(log_dir: Path, account: TwilioAccount, *, seed: int) -> TwilioEmulator:
    process, base_url = _start(
        "twilio-emulator", [f"--seed={seed}", f"--account={account.sid}:{account.token}"], log_dir
    )
    return TwilioEmulator(process, base_url, account)


# -- Meta ------------------------------------------------------------------------------------------


def _meta_id() -> str:
    """A fresh id of Meta's form (16 digits)."""
    return str(10**15 + secrets.randbelow(9 * 10**15))


@dataclass(frozen=True, slots=True)
class MetaBusiness:
    """A WhatsApp Business Account with one number, of an app of its own: what the emulator serves and
    what the tenant's Meta provider account holds."""

    app_id: str
    app_secret: str
    verify_token: str
    waba_id: str
    access_token: str
    phone_number_id: str
    display_phone_number: str  # digits, as Meta writes it

    @classmethod
    def new(cls, display_phone_number: str = "15550100001") -> MetaBusiness:
        return cls(
            app_id=_meta_id(),
            app_secret=secrets.token_urlsafe(24),
            verify_token=secrets.token_urlsafe(12),
            waba_id=_meta_id(),
            access_token=secrets.token_urlsafe(32),
            phone_number_id=_meta_id(),
            display_phone_number=display_phone_number,
        )

    @property
    def sender(self) -> str:
        """The number, +E.164, as the tenant's sender has it."""
        return f"+{self.display_phone_number}"

    def provider_account(self, label: str = "Meta") -> dict[str, Any]:
        """The body of ``POST /api/provider-accounts`` that connects this business to a tenant."""
        return {
            "provider": "meta",
            "label": label,
            "meta": {
                "business_account_id": self.waba_id,
                "access_token": self.access_token,
                "app_secret": self.app_secret,
                "verify_token": self.verify_token,
            },
        }


class MetaEmulator(EmulatorProcess):
    def __init__(self, process: ManagedProcess, base_url: str, business: MetaBusiness) -> None:
        super().__init__(process, base_url)
        self.business = business

    @property
    def gateway_settings(self) -> dict[str, str]:
        return {"META_GRAPH_API_BASE_URL": self.base_url}

    async def created_messages(self) -> list[CreatedMessage]:
        messages, requests, webhooks = await asyncio.gather(
            self._get("/_emulator/messages"),
            self._get("/_emulator/requests"),
            self._get("/_emulator/webhooks"),
        )
        outcome_of = {
            request["message_id"]: request["outcome"]
            for request in requests["requests"]
            if request["message_id"] and request["method"] == "POST"
        }
        reported = {
            message_id
            for webhook in webhooks["webhooks"]
            if webhook["statuses"] and 200 <= (webhook["http_status"] or 0) < 300
            for message_id in webhook["message_ids"]
        }
        created = []
        for message in messages["messages"]:
            outcome = outcome_of.get(message["id"], "accepted")
            created.append(
                CreatedMessage(
                    sid=message["id"],
                    to=message["to"],
                    from_=message["phone_number_id"],
                    body=(message["request"].get("text") or {}).get("body", ""),
                    outcome="created" if outcome == "accepted" else outcome,
                    callback_data=message["biz_opaque_callback_data"],
                    reported=message["id"] in reported,
                )
            )
        return created

    async def open_session_windows(self, gateway_url: str, sender: str, contacts: Sequence[str]) -> None:
        if sender != self.business.sender:
            raise ValueError(f"the emulator has no number {sender}: it has {self.business.sender}")

        async def write(contact: str) -> dict[str, Any]:
            return await self._post(
                "/_emulator/inbound",
                {
                    "url": f"{gateway_url}/webhooks/meta",
                    "from": contact,
                    "phone_number_id": self.business.phone_number_id,
                    "text": {"body": "hello"},
                },
            )

        await each_writes(contacts, write)


def start_meta_emulator(
    log_dir: Path, business: MetaBusiness, callback_url: str, *, seed: int
) -> MetaEmulator:
    """The emulator serving ``business``, posting its webhooks (signed with its app's secret) to
    ``callback_url``."""
    # --option=value: a random secret may start with "-", which argparse would take for an option.
    options = {
        "seed": str(seed),
        "app-id": business.app_id,
        "app-secret": business.app_secret,
        "verify-token": business.verify_token,
        "waba-id": business.waba_id,
        "token": business.access_token,
        "phone-number": f"{business.phone_number_id}:{business.display_phone_number}",
        "callback-url": callback_url,
    }
    process, base_url = _start(
        "meta-emulator", [f"--{name}={value}" for name, value in options.items()], log_dir
    )
    return MetaEmulator(process, base_url, business)
