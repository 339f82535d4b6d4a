"""What the emulator knows and how it misbehaves: apps, business accounts, webhooks and injected faults.

Every type here is a frozen ``msgspec.Struct`` so the same definitions serve the Python API, the CLI
and the JSON control API (``/_emulator/...``).
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Self

import msgspec

from emulators.common.settings import FaultSettings, NonNegative

_NOT_DIGITS = re.compile(r"\D")


def digits(number: str) -> str:
    """``+1 (415) 555-0100`` → ``14155550100``: a phone number as WhatsApp writes it (a ``wa_id``)."""
    return _NOT_DIGITS.sub("", number)


class WebhookOrder(enum.StrEnum):
    IN_ORDER = "in_order"
    REVERSED = "reversed"  # every status of a message is posted, last one first
    SHUFFLED = "shuffled"


class Stage(enum.StrEnum):
    """When an error shows."""

    REQUEST = "request"  # the API call fails with Meta's error body
    DELIVERY = "delivery"  # the message is accepted (200, a wamid), then a ``failed`` status webhook


class ForcedError(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An error forced on a send. Unset fields take what Meta does for ``code`` (see errors.py)."""

    code: int
    stage: Stage | None = None
    http_status: int | None = None
    title: str | None = None
    details: str | None = None


class Faults(FaultSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Misbehaviour, changeable while the emulator runs (``PATCH /_emulator/faults``).

    Latency, random failures of sends, held requests and dropped connections as every emulator has
    them (``FaultSettings``; a send created before failing still gets its webhooks); a failure of kind
    ``rate_limited`` is a 429 (code 130429), ``server_error`` a 500 (131000), ``unavailable`` a 503 (2).
    ``next_errors`` are used up one per send, in order; ``recipient_errors`` force an error for a
    customer (by number, any format) and ``sender_errors`` for a business phone-number id.
    Status webhooks are posted ``1 + duplicate_webhooks`` times each, in ``webhook_order``.
    """

    next_errors: tuple[ForcedError, ...] = ()
    recipient_errors: dict[str, ForcedError] = {}
    sender_errors: dict[str, ForcedError] = {}
    duplicate_webhooks: Annotated[int, msgspec.Meta(ge=0, le=10)] = 0
    webhook_order: WebhookOrder = WebhookOrder.IN_ORDER

    def normalized(self) -> Self:
        """The same faults with every recipient key in ``wa_id`` form (digits only)."""
        return msgspec.structs.replace(
            self, recipient_errors={digits(k): v for k, v in self.recipient_errors.items()}
        )


DEFAULT_STATUSES = ("sent", "delivered", "read")


class WebhookSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How an accepted message progresses, and how webhooks are posted.

    A message goes through ``statuses`` one step every ``step_delay_seconds`` (the first step after one
    delay too); a message with a delivery-stage error goes straight to ``failed``. With
    ``batch_window_seconds`` > 0, the status webhooks produced within that window for one callback URL
    go out in one POST (one entry per business account, one change per status, or one change per phone
    number and kind with ``merge_changes``). A webhook the receiver does not answer with a 2xx is
    posted again up to ``retry_attempts`` times, ``retry_delay_seconds`` apart.
    """

    statuses: tuple[str, ...] = DEFAULT_STATUSES
    step_delay_seconds: NonNegative = 0.05
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0.0)] = 5.0
    batch_window_seconds: NonNegative = 0.0
    merge_changes: bool = False
    retry_attempts: Annotated[int, msgspec.Meta(ge=0, le=20)] = 0
    retry_delay_seconds: NonNegative = 0.05

    def __post_init__(self) -> None:
        unknown = set(self.statuses) - {"sent", "delivered", "read", "failed"}
        if unknown:
            raise ValueError(f"statuses: Meta has no status {sorted(unknown)}")


class SessionWindow(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """WhatsApp's customer-service window: a non-template message reaches only a customer who wrote to
    that business number within ``hours``. Meta reports a closed window as error 131047 in a ``failed``
    status webhook (``stage: delivery``); ``stage: request`` answers the send with it instead."""

    enforced: bool = False
    hours: Annotated[float, msgspec.Meta(gt=0.0)] = 24.0
    stage: Stage = Stage.DELIVERY


class App(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A Meta app: its secret signs the webhooks; its callback URL and verify token are its webhook
    subscription (``callback_url`` None: status webhooks are not posted)."""

    secret: str
    callback_url: str | None = None
    verify_token: str = ""


class PhoneNumber(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A business phone number. ``display_phone_number`` is written as Meta writes it in webhooks
    (digits, e.g. ``15550100001``)."""

    display_phone_number: str
    verified_name: str = "Emulated Business"


class Template(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An approved message template. ``body_parameters`` (when set) is how many body parameters a send
    must give (else error 132000); ``category`` is the pricing category its status webhooks carry."""

    name: str
    language: str = "en_US"
    category: str = "utility"
    body_parameters: Annotated[int, msgspec.Meta(ge=0)] | None = None


class TemplateReview(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How message templates created through the API are reviewed.

    A template waits ``review_seconds`` of the emulator's clock (``POST /_emulator/clock`` moves it),
    then is approved, or rejected with ``rejection_reason`` when its name starts with
    ``reject_name_prefix`` or its body holds one of ``reject_words`` (as a word, any case). A review
    still to come is pending work: ``settle`` waits for it.
    """

    review_seconds: NonNegative = 2.0
    reject_words: tuple[str, ...] = ("reject",)
    reject_name_prefix: str = "reject_"
    rejection_reason: str = "INVALID_FORMAT"


class Business(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A WhatsApp Business Account (WABA): its phone numbers (by phone-number id), the access tokens
    that may use them (``expired_tokens`` answer error 190), the app whose webhooks it reaches, and its
    templates (none listed: every template name is accepted). ``callback_url`` overrides the app's."""

    app_id: str
    phone_numbers: dict[str, PhoneNumber] = {}
    access_tokens: tuple[str, ...] = ()
    expired_tokens: tuple[str, ...] = ()
    callback_url: str | None = None
    templates: tuple[Template, ...] = ()


class EmulatorConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The emulator's start-up configuration; ``POST /_emulator/reset`` returns to it.

    ``apps`` maps app ids to apps, ``businesses`` WABA ids to business accounts. ``wa_ids`` maps a
    number (digits) to the WhatsApp id it resolves to when the two differ (Mexico's ``52…`` → ``521…``).
    Templates created through the API are reviewed as ``template_review`` says. Media download URLs
    expire after ``media_url_ttl_seconds``; an upload may hold ``max_media_bytes``.
    """

    apps: dict[str, App] = {}
    businesses: dict[str, Business] = {}
    wa_ids: dict[str, str] = {}
    faults: Faults = msgspec.field(default_factory=Faults)
    webhooks: WebhookSettings = msgspec.field(default_factory=WebhookSettings)
    session_window: SessionWindow = msgspec.field(default_factory=SessionWindow)
    template_review: TemplateReview = msgspec.field(default_factory=TemplateReview)
    media_url_ttl_seconds: Annotated[float, msgspec.Meta(gt=0.0)] = 300.0
    max_media_bytes: Annotated[int, msgspec.Meta(gt=0)] = 100 * 1024 * 1024
    max_records: Annotated[int, msgspec.Meta(gt=0)] = 100_000
    seed: int | None = None

    def __post_init__(self) -> None:
        for waba_id, business in self.businesses.items():
            if business.app_id not in self.apps:
                raise ValueError(f"businesses.{waba_id}.app_id: no app {business.app_id!r}")
        owners: dict[str, str] = {}
        for waba_id, business in self.businesses.items():
            for number_id in business.phone_numbers:
                if number_id in owners:
                    raise ValueError(
                        f"phone number id {number_id} belongs to {owners[number_id]} and {waba_id}"
                    )
                owners[number_id] = waba_id
