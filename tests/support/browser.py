"""The gateway's web pages in a real browser: Debian's Chromium driven by Playwright (its async API, on the
test session's event loop, beside the gateway that uvicorn serves there), screenshots for a person to
look at, axe-core's accessibility checks, a watch over what the browser refuses or fails to run, and the
served gateway with the people who log in to it (``ConsoleWorld``; the fixtures are in
tests/integration/browser/conftest.py).

Chromium is found at ``CHROMIUM_PATH``, else ``/usr/bin/chromium`` (Debian's package: Playwright's own
browser download is not used). Screenshots go to ``BROWSER_SCREENSHOTS_DIR``, else
``.browser-screenshots/`` at the repository's root (ignored by git).
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import BrowserContext, ConsoleMessage, Page, WebError

from application.authorization import OPERATOR
from domain.administration.tenancy import Role
from tests.support.two_providers import CUSTOMER, TWILIO_NUMBER, World

DEFAULT_CHROMIUM = Path("/usr/bin/chromium")
REPOSITORY = Path(__file__).resolve().parents[2]
DEFAULT_SCREENSHOTS = REPOSITORY / ".browser-screenshots"

# The two screen sizes every page is looked at in: a laptop, and a phone held upright.
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
SIZES = {"desktop": DESKTOP, "phone": PHONE}

# axe-core's impacts that fail a test; "minor" and "moderate" ones are left to judgement.
FAILING_IMPACTS = frozenset({"serious", "critical"})


class ChromiumNotFound(Exception):
    """No Chromium where the tests look for it; the message says where that was and how to get one."""


def chromium_path() -> Path:
    configured = os.environ.get("CHROMIUM_PATH")
    path = Path(configured) if configured else DEFAULT_CHROMIUM
    if not (path.is_file() and os.access(path, os.X_OK)):
        origin = "CHROMIUM_PATH" if configured else "the default path"
        raise ChromiumNotFound(
            f"no Chromium for the browser tests at {path} ({origin}): install Debian's package "
            "(apt-get install chromium) or set CHROMIUM_PATH to a Chromium executable"
        )
    return path


def screenshots_directory() -> Path:
    configured = os.environ.get("BROWSER_SCREENSHOTS_DIR")
    return Path(configured) if configured else DEFAULT_SCREENSHOTS


async def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """The whole page (or, with ``full_page=False``, what the viewport shows) as ``<name>.png`` in the
    screenshots folder; ``name`` says what the page is and at which size, e.g. ``conversations-phone``."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ValueError(f"a screenshot's name is a plain file name, not {name!r}")
    directory = screenshots_directory()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    await page.screenshot(path=path, full_page=full_page)
    return path


async def assert_accessible(page: Page) -> None:
    """Run axe-core on the page as it is now; fail on any violation of serious or critical impact,
    listing each rule with the elements that break it."""
    results = await Axe().run(page)
    violations: list[dict[str, Any]] = results.response["violations"]
    failing = [violation for violation in violations if violation.get("impact") in FAILING_IMPACTS]
    if failing:
        raise AssertionError(
            f"{len(failing)} serious or critical accessibility violation(s) at {page.url}:\n"
            + "\n".join(_describe(violation) for violation in failing)
        )


def _describe(violation: dict[str, Any], shown: int = 5) -> str:
    nodes: list[dict[str, Any]] = violation["nodes"]
    lines = [f"- {violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>"]
    for node in nodes[:shown]:
        target = " ".join(str(part) for part in node["target"])
        lines.append(f"    {target}: {' '.join(node['html'].split())[:200]}")
        if node.get("failureSummary"):
            lines.extend(f"      {line.strip()}" for line in node["failureSummary"].splitlines())
    if len(nodes) > shown:
        lines.append(f"    and {len(nodes) - shown} more element(s)")
    return "\n".join(lines)


# Each page reports what its Content-Security-Policy refused, from the document's own event.
_REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
    window.__reportCspViolation(
        `${event.effectiveDirective} refused ${event.blockedURI || "inline"} at ${event.documentURI}`
    );
});
"""


@dataclass
class PageProblems:
    """What went wrong in a browser context's pages: what their Content-Security-Policy refused, uncaught
    script errors, and messages the pages logged as errors (a failed request among them)."""

    csp_violations: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    @classmethod
    async def watch(cls, context: BrowserContext) -> PageProblems:
        """Watch every page of ``context`` from now on; ``problems_of(page)`` finds what was seen."""
        problems = cls()
        await context.expose_function("__reportCspViolation", problems._csp_violation)
        await context.add_init_script(_REPORT_CSP_VIOLATIONS)
        context.on("weberror", problems._script_error)
        context.on("console", problems._console_message)
        _WATCHED[context] = problems
        return problems

    def _csp_violation(self, description: str) -> None:
        self.csp_violations.append(description)

    def _script_error(self, error: WebError) -> None:
        self.script_errors.append(str(error.error))

    def _console_message(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    def blocking(self) -> list[str]:
        """The problems that fail any test: refused by the policy, or a script that threw."""
        return [f"CSP: {v}" for v in self.csp_violations] + [f"script: {e}" for e in self.script_errors]


_WATCHED: weakref.WeakKeyDictionary[BrowserContext, PageProblems] = weakref.WeakKeyDictionary()


def problems_of(page: Page) -> PageProblems:
    """What went wrong so far in ``page``'s browser context (every page the fixtures open is watched)."""
    return _WATCHED[page.context]


@dataclass(frozen=True)
class Screen:
    """A page at one of the sizes: ``size`` is its key in SIZES ("desktop", "phone"), for a screenshot's
    name."""

    size: str
    page: Page


@dataclass(frozen=True)
class Account:
    """Someone who logs in to the console: the tests know the password."""

    username: str
    password: str
    role: Role


# -- the served gateway and its people -------------------------------------------------------------

PASSWORD = "a long enough password"
# The Twilio emulator reviews a template this long after its submission, by its own clock.
TWILIO_REVIEW_SECONDS = 3600
# Opens a page in a fresh browser context of a size (DESKTOP, PHONE): the ``open_page`` fixture.
OpenPage = Callable[[dict[str, Any]], Awaitable[Page]]


@dataclass(frozen=True)
class ConsoleWorld:
    """The served gateway and the people who use it. ``world`` is the two-provider world: its emulators
    let a customer write (``world.customer_writes_to_twilio_number``), its API client acts as the tenant
    admin."""

    world: World
    tenant_admin: Account
    agent: Account
    platform_admin: Account

    @property
    def base_url(self) -> str:
        return self.world.gateway_url

    @property
    def customer(self) -> str:
        """The customer's number, who writes through either emulator."""
        return CUSTOMER

    async def customer_writes(
        self, body: str, *, customer: str | None = None, profile_name: str = "Ana"
    ) -> str:
        """``customer`` writes ``body`` to the tenant's Twilio number (through the emulator, signed as
        Twilio signs); without one, someone the tenant has never heard from: a conversation of the
        test's own. Returns the customer's number."""
        customer = customer or f"+1415{uuid.uuid4().int % 10**7:07d}"
        delivery = await self.world.twilio.send_inbound(
            f"{self.base_url}/webhooks/twilio/inbound",
            from_=customer,
            to=TWILIO_NUMBER,
            body=body,
            account_sid=self.world.twilio_sid,
            profile_name=profile_name,
        )
        assert delivery.http_status == 200, delivery.response_body
        return customer

    async def business_sends(self, customer: str, body: str) -> dict[str, Any]:
        """The tenant admin sends ``body`` to ``customer`` from the Twilio number through the API; the
        message as the API shows it once its provider has it and every status of it has come back."""
        world = self.world
        response = await world.http.post(
            "/api/send",
            json={"to_number": customer, "from_number": TWILIO_NUMBER, "body": body},
            headers=world.headers,
        )
        assert response.status_code in (201, 202), response.text
        return await self.settled(response.json()["id"])

    async def settled(self, message_id: str) -> dict[str, Any]:
        """Message ``message_id`` as the API shows it once its provider has it and the emulator has
        posted every status of it."""
        path = f"/api/messages/{message_id}"
        for _ in range(500):  # the gateway hands a message over in the background
            if (await self.world.api("GET", path))["provider_sid"]:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError(f"message {message_id} never reached a provider")
        await self.world.twilio.state.settle()
        found: dict[str, Any] = await self.world.api("GET", path)
        return found

    async def approved_template(self) -> dict[str, Any]:
        """A template of its own (``{{1}}`` and ``{{2}}`` in its body) approved for the Twilio number:
        created through the API, reviewed by the emulator once its clock has moved past the review, and
        synced. The template as the API shows it."""
        world = self.world
        created = await world.api(
            "POST",
            "/api/templates",
            {
                "name": f"visit_reminder_{uuid.uuid4().hex[:6]}",
                "language": "en",
                "category": "utility",
                "body": "Hi {{1}}, see you on {{2}}.",
                "examples": {"1": "Ana", "2": "Monday"},
            },
            expect=201,
        )
        world.twilio.state.advance_clock(TWILIO_REVIEW_SECONDS)
        await world.api("POST", "/api/templates/sync")
        template: dict[str, Any] = await world.api("GET", f"/api/templates/{created['id']}")
        assert {"provider": "twilio", "status": "approved"}.items() <= next(
            listing for listing in template["listings"] if listing["provider"] == "twilio"
        ).items(), template
        return template

    async def business_writes_first(self, template_name: str) -> str:
        """Someone new gets template ``template_name`` (values "Eva", "Friday") from the Twilio number:
        a conversation whose 24-hour window is closed, since the customer never wrote. Returns their
        number."""
        customer = f"+1415{uuid.uuid4().int % 10**7:07d}"
        template = {"name": template_name, "language": "en", "variables": {"1": "Eva", "2": "Friday"}}
        response = await self.world.http.post(
            "/api/send",
            json={"to_number": customer, "from_number": TWILIO_NUMBER, "template": template},
            headers=self.world.headers,
        )
        assert response.status_code in (201, 202), response.text
        return customer

    async def conversation_id(self, customer: str) -> str:
        conversations = (await self.world.api("GET", "/api/conversations"))["items"]
        (conversation,) = [item for item in conversations if item["contact"] == customer]
        found: str = conversation["id"]
        return found

    async def add_user(self, role: Role = Role.AGENT) -> Account:
        """Someone new, for a test that changes its user (a password, a role): a platform admin, else one
        of the tenant's people."""
        return await new_user(self.world, role)


async def new_user(world: World, role: Role) -> Account:
    account = Account(f"{role.value.replace('_', '-')}-{uuid.uuid4().hex[:6]}", PASSWORD, role)
    if role is Role.PLATFORM_ADMIN:
        # As `wa-gateway user create platform root --role platform_admin` makes the first one.
        tenant_id = (await world.container.ensure_platform_tenant()()).id
    else:
        tenant_id = world.tenant_id
    await world.container.create_user()(OPERATOR, tenant_id, account.username, account.password, role)
    return account


# -- signing in ---------------------------------------------------------------------------------------

CONSOLE = "/console"


# The sign-in form's labels and button in each of the console's languages.
SIGN_IN_WORDS = {"en": ("Username", "Password", "Sign in"), "es": ("Usuario", "Contraseña", "Iniciar sesión")}


async def sign_in(page: Page, account: Account, *, next_path: str = CONSOLE) -> None:
    """Sign ``account`` in with the console's form, as a person does (in the language the form is shown
    in), and wait for the page the form leads to (``next_path``, the dashboard unless said)."""
    await page.goto(f"{CONSOLE}/login?{urlencode({'next': next_path})}")
    username, password, button = SIGN_IN_WORDS[await page.locator("html").get_attribute("lang") or "en"]
    await page.get_by_label(username).fill(account.username)
    await page.get_by_label(password).fill(account.password)
    await page.get_by_role("button", name=button).click()
    await page.wait_for_url(lambda url: urlsplit(url).path == urlsplit(next_path).path)


async def sign_out(page: Page) -> None:
    """Sign out with the header's button, and wait for the sign-in form it leads to."""
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(lambda url: urlsplit(url).path == f"{CONSOLE}/login")
