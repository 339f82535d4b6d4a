"""The account's token goes only to Meta's media hosts (or the emulator the client was pointed at)."""

from __future__ import annotations

import pytest

from adapters.meta.graph import GraphApiClient, GraphNoAnswer
from tests.support.meta import meta_credentials


@pytest.mark.parametrize(
    "url",
    [
        "https://attacker.example.com/media/1",
        "http://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",  # not https
        "https://fbsbx.com.attacker.example.com/x",
        "https://127.0.0.1:9/x",
    ],
)
async def test_a_media_url_off_metas_hosts_gets_no_request(url: str) -> None:
    client = GraphApiClient(timeout_seconds=1)
    try:
        with pytest.raises(GraphNoAnswer, match="not on one of its hosts"):
            async with client.open_download(meta_credentials(), url, max_bytes=1024):
                pass
    finally:
        await client.aclose()
