"""``assert_accessible``, which every console page is checked with: it fails on what axe-core calls a
serious or critical violation, naming the rule and the element, and lets an accessible page pass."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from tests.support.browser import assert_accessible

ACCESSIBLE = """<!DOCTYPE html>
<html lang="en"><head><title>Conversations</title></head>
<body><main><h1>Conversations</h1>
<form><label for="search">Search</label><input id="search" name="q" type="search"></form>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="The tenant's logo">
</main></body></html>"""


async def test_an_accessible_page_passes(desktop: Page) -> None:
    await desktop.set_content(ACCESSIBLE)

    await assert_accessible(desktop)


async def test_an_unlabelled_field_and_an_image_without_text_fail_by_rule_and_element(desktop: Page) -> None:
    await desktop.set_content(
        ACCESSIBLE.replace('<label for="search">Search</label>', "").replace(' alt="The tenant\'s logo"', "")
    )

    with pytest.raises(AssertionError) as failure:
        await assert_accessible(desktop)

    report = str(failure.value)
    assert "2 serious or critical accessibility violation(s)" in report
    assert "- label (critical): Form elements must have labels" in report
    assert '#search: <input id="search" name="q" type="search">' in report
    assert "- image-alt (critical)" in report
