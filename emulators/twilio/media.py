"""The media customers send, served as Twilio serves them with HTTP Basic authentication on media.

``GET /2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{MediaSid}`` (an inbound message's
``MediaUrlN``) needs the account's credentials (its auth token or one of its API keys) and answers
``307`` to a short-lived URL on the "CDN" (``/_media_cdn/{token}``, on the emulator itself), which needs
none and expires after ``media_url_ttl_seconds``. Every request of either kind is kept, with whether it
carried an Authorization header (``EmulatorState.media_fetches``).
"""

from __future__ import annotations

from aiohttp import web

from emulators.common.faults import apply_latency
from emulators.twilio import errors
from emulators.twilio.api import TwilioError
from emulators.twilio.keys import STATE
from emulators.twilio.state import AuthKind, AuthUsed, MediaFetch, MediaRecord

CDN_PATH = "/_media_cdn"


async def fetch_media(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    account_sid = request.match_info["account_sid"]
    authorization = request.headers.get("Authorization")
    auth = state.authenticate(authorization, account_sid)
    await apply_latency(state)
    media = state.media.get(request.match_info["media_sid"])
    found = (
        media is not None
        and media.account_sid == account_sid
        and media.message_sid == request.match_info["sid"]
    )

    def answer(response: web.StreamResponse) -> web.StreamResponse:
        state.record_media_fetch(
            MediaFetch(
                path=request.path,
                at_cdn=False,
                authorization_sent=authorization is not None,
                auth=auth,
                http_status=response.status,
                media_sid=media.sid if media is not None and found else None,
            )
        )
        return response

    if not auth.ok:
        return answer(TwilioError.of(errors.AUTHENTICATE).response())
    forced = state.faults.media_error_status
    if forced is not None:
        code = errors.NOT_FOUND if forced == 404 else errors.SERVICE_UNAVAILABLE
        return answer(TwilioError.of(code, http_status=forced, uri=request.path).response())
    if media is None or not found:
        return answer(TwilioError.of(errors.NOT_FOUND, uri=request.path).response())
    token = state.issue_cdn_link(media.sid)
    return answer(web.Response(status=307, headers={"Location": f"{request.url.origin()}{CDN_PATH}/{token}"}))


async def cdn_media(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    media: MediaRecord | None = state.cdn_media(request.match_info["token"])
    if media is None:
        response = web.Response(status=403, text="Request has expired", content_type="text/plain")
    else:
        response = web.Response(body=media.content, headers={"Content-Type": media.content_type})
    state.record_media_fetch(
        MediaFetch(
            path=request.path,
            at_cdn=True,
            authorization_sent="Authorization" in request.headers,
            auth=AuthUsed(AuthKind.MISSING),
            http_status=response.status,
            media_sid=media.sid if media is not None else None,
        )
    )
    return response
