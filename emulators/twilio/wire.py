"""Twilio's wire format: the Message resource, list pages, and the webhook form fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import urlencode

from emulators.twilio.config import bare_number
from emulators.twilio.state import MessageRecord

API_VERSION = "2010-04-01"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def rfc2822(moment: datetime | None) -> str | None:
    """Twilio's date format: ``Thu, 24 Aug 2023 05:01:45 +0000``."""
    return format_datetime(moment) if moment is not None else None


def messages_uri(account_sid: str) -> str:
    return f"/{API_VERSION}/Accounts/{account_sid}/Messages.json"


def message_uri(account_sid: str, sid: str) -> str:
    return f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}.json"


def message_resource(message: MessageRecord) -> dict[str, object]:
    base = f"/{API_VERSION}/Accounts/{message.account_sid}/Messages/{message.sid}"
    return {
        "account_sid": message.account_sid,
        "api_version": API_VERSION,
        "body": message.body,
        "date_created": rfc2822(message.date_created),
        "date_sent": rfc2822(message.date_sent),
        "date_updated": rfc2822(message.date_updated),
        "direction": message.direction,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "from": message.from_,
        "messaging_service_sid": None,
        "num_media": str(len(message.media_urls)),
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": message.sid,
        "status": message.status,
        "subresource_uris": {"media": f"{base}/Media.json", "feedback": f"{base}/Feedback.json"},
        "to": message.to,
        "uri": f"{base}.json",
    }


def message_page(
    *,
    account_sid: str,
    messages: Sequence[MessageRecord],
    filters: Mapping[str, str],
    page: int,
    page_size: int,
) -> dict[str, object]:
    """One page of a Messages list, with Twilio's paging fields (``page`` counts from 0)."""
    start = page * page_size
    rows = messages[start : start + page_size]

    def uri(page_number: int, token: str | None = None) -> str:
        query = {**filters, "PageSize": str(page_size), "Page": str(page_number)}
        if token:
            query["PageToken"] = token
        return f"{messages_uri(account_sid)}?{urlencode(query)}"

    has_next = start + page_size < len(messages)
    return {
        "first_page_uri": uri(0),
        "end": start + len(rows) - 1 if rows else start,
        "previous_page_uri": uri(page - 1, f"PB{rows[0].sid}" if rows else None) if page > 0 else None,
        "messages": [message_resource(m) for m in rows],
        "uri": uri(page),
        "page_size": page_size,
        "start": start,
        "next_page_uri": uri(page + 1, f"PA{rows[-1].sid}") if has_next and rows else None,
        "page": page,
    }


def status_callback_params(message: MessageRecord, status: str, channel_install_sid: str) -> dict[str, str]:
    """The form fields of a WhatsApp status callback."""
    params = {
        "AccountSid": message.account_sid,
        "ApiVersion": API_VERSION,
        "ChannelInstallSid": channel_install_sid,
        "ChannelPrefix": "whatsapp",
        "ChannelToAddress": bare_number(message.to),
        "From": message.from_,
        "MessageSid": message.sid,
        "MessageStatus": status,
        "SmsSid": message.sid,
        "SmsStatus": status,
        "StructuredMessage": "false",
        "To": message.to,
    }
    if status in ("delivered", "read"):
        params["EventType"] = status.upper()
    if status in ("failed", "undelivered") and message.error_code is not None:
        params["ErrorCode"] = str(message.error_code)
    return params


def inbound_params(
    *,
    message: MessageRecord,
    profile_name: str,
    media_content_types: Sequence[str],
    extra: Mapping[str, str],
) -> dict[str, str]:
    """The form fields Twilio posts to a number's webhook for an incoming WhatsApp message."""
    content_types = [
        media_content_types[index] if index < len(media_content_types) else "image/jpeg"
        for index in range(len(message.media_urls))
    ]
    params = {
        "AccountSid": message.account_sid,
        "ApiVersion": API_VERSION,
        "Body": message.body,
        "From": message.from_,
        "MessageSid": message.sid,
        "MessageType": _message_type(content_types, extra),
        "NumMedia": str(len(message.media_urls)),
        "NumSegments": "1",
        "ProfileName": profile_name,
        "ReferralNumMedia": "0",
        "SmsMessageSid": message.sid,
        "SmsSid": message.sid,
        "SmsStatus": "received",
        "To": message.to,
        "WaId": bare_number(message.from_).lstrip("+"),
    }
    for index, (url, content_type) in enumerate(zip(message.media_urls, content_types, strict=True)):
        params[f"MediaUrl{index}"] = url
        params[f"MediaContentType{index}"] = content_type
    params.update(extra)
    return params


def _message_type(media_content_types: Sequence[str], extra: Mapping[str, str]) -> str:
    """WhatsApp's kind of the message, as Twilio names it (``extra`` may name it itself)."""
    if "Latitude" in extra:
        return "location"
    if "ButtonPayload" in extra:
        return "button"
    if "ListId" in extra:
        return "interactive"
    if not media_content_types:
        return "text"
    kind = media_content_types[0].split("/", 1)[0]
    return {"image": "image", "video": "video", "audio": "audio"}.get(kind, "document")
