"""The console in Spanish, in Chromium: a browser that asks for Spanish gets it from the first page, and
the language switch changes it for every page after, either way."""

from __future__ import annotations

from playwright.async_api import expect

from tests.support.browser import CONSOLE, DESKTOP, ConsoleWorld, OpenPage, sign_in


async def test_a_browser_asking_for_spanish_signs_in_and_works_in_spanish(
    open_page: OpenPage, console_world: ConsoleWorld
) -> None:
    page = await open_page({**DESKTOP, "locale": "es-ES"})
    agent = console_world.agent

    await page.goto(f"{CONSOLE}/login")

    await expect(page.locator("html")).to_have_attribute("lang", "es")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Iniciar sesión")
    await page.get_by_label("Usuario").fill(agent.username)
    await page.get_by_label("Contraseña").fill(agent.password)
    await page.get_by_role("button", name="Iniciar sesión").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Panel")
    await expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()


async def test_a_wrong_password_is_said_in_spanish(open_page: OpenPage, console_world: ConsoleWorld) -> None:
    page = await open_page({**DESKTOP, "locale": "es-ES"})
    await page.goto(f"{CONSOLE}/login")
    await page.get_by_label("Usuario").fill(console_world.agent.username)
    await page.get_by_label("Contraseña").fill("not the password")

    await page.get_by_role("button", name="Iniciar sesión").click()

    await expect(page.get_by_role("alert")).to_have_text("El usuario o la contraseña no son correctos.")


async def test_the_switch_changes_the_language_of_every_page_after_and_back(
    open_page: OpenPage, console_world: ConsoleWorld
) -> None:
    page = await open_page(DESKTOP)  # a browser asking for English
    await page.goto(f"{CONSOLE}/login")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")

    await page.get_by_role("link", name="Español").click()

    # Back on the page it was on, now in Spanish, and still in Spanish after signing in.
    await expect(page.get_by_role("heading", level=1)).to_have_text("Iniciar sesión")
    await page.get_by_label("Usuario").fill(console_world.agent.username)
    await page.get_by_label("Contraseña").fill(console_world.agent.password)
    await page.get_by_role("button", name="Iniciar sesión").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Panel")

    await page.get_by_role("link", name="English").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    await expect(page.locator("html")).to_have_attribute("lang", "en")


async def test_a_spanish_speaking_agent_answers_a_customer_from_the_inbox_in_spanish(
    open_page: OpenPage, console_world: ConsoleWorld
) -> None:
    page = await open_page({**DESKTOP, "locale": "es-ES"})
    await sign_in(page, console_world.agent)
    await (
        page.get_by_role("navigation", name="Secciones")
        .get_by_role("link", name="Bandeja de entrada")
        .click()
    )
    await expect(page.get_by_role("heading", level=1)).to_have_text("Bandeja de entrada")
    await expect(
        page.get_by_role("status").filter(has_text="Actualización en directo activada.")
    ).to_be_visible()

    customer = await console_world.customer_writes("¿Tienen talla 40?", profile_name="Lucía")
    await page.get_by_role("link", name=customer).click()
    await page.get_by_label("Mensaje (o el pie de un archivo)").fill("Sí, la tenemos.")
    await page.get_by_role("button", name="Enviar mensaje").click()

    await expect(
        page.locator("[data-messages] li.outbound").filter(has_text="Sí, la tenemos.")
    ).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("lang", "es")
