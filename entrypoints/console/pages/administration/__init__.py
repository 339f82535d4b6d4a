"""The tenant's administration, for its admins: users, senders, provider accounts, API keys, webhooks,
limits, the consent and retention policies and the audit log, on the use cases the API's routes call."""

from __future__ import annotations

from litestar import Controller

from entrypoints.console.pages.administration.accounts import ProviderAccountsController
from entrypoints.console.pages.administration.api_keys import ApiKeysController
from entrypoints.console.pages.administration.audit import AuditController
from entrypoints.console.pages.administration.index import AdministrationController
from entrypoints.console.pages.administration.limits import LimitsController
from entrypoints.console.pages.administration.privacy import PrivacyController
from entrypoints.console.pages.administration.senders import SendersController
from entrypoints.console.pages.administration.users import UsersController
from entrypoints.console.pages.administration.webhooks import WebhooksController

ADMINISTRATION_CONTROLLERS: tuple[type[Controller], ...] = (
    AdministrationController,
    UsersController,
    SendersController,
    ProviderAccountsController,
    ApiKeysController,
    WebhooksController,
    LimitsController,
    PrivacyController,
    AuditController,
)
