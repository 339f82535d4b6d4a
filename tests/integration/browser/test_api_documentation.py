"""The API's documentation page (/docs, Swagger UI) in Chromium: it renders under its own
Content-Security-Policy at a desktop's size and a phone's. Its accessibility is Swagger UI's, not checked
here."""

from __future__ import annotations

from playwright.async_api import expect

from tests.support.browser import Screen, problems_of, screenshot


async def test_swagger_ui_renders_the_schema_under_the_pages_content_security_policy(screen: Screen) -> None:
    page = screen.page

    response = await page.goto("/docs")

    assert response is not None
    assert response.status == 200
    policy = await response.header_value("Content-Security-Policy")
    assert policy is not None
    assert "script-src 'self'" in policy
    # Swagger UI's script ran: it fetched the schema and drew the API's title and its operations.
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("wa-gateway")
    await expect(page.locator(".opblock").first).to_be_visible()
    assert problems_of(page).blocking() == []
    await screenshot(page, f"docs-{screen.size}", full_page=False)  # the whole schema is metres long
