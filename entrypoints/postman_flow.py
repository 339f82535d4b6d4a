"""The order in which the Postman collection runs the API: as a user works, from login to logout.

Each step names an operation of the OpenAPI schema and only what the schema cannot say: which ids
and names to use (variables saved by earlier steps), which body values make a valid request that
leaves the demo data usable, and which status to expect where it is not the operation's success.
Everything else (method, URL, parameters, the rest of the body, auth) comes from the schema.

What the run creates it removes (senders, API keys, webhook endpoints) or leaves inert (a user is
deactivated; a tenant the platform admin creates is its own, named for the run): no step changes the
demo tenant's settings, credentials or the demo user.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Variables a user sets (or keeps), with what they are for. The others are set by the run's scripts.
USER_VARIABLES: tuple[tuple[str, str, str], ...] = (
    ("baseUrl", "http://127.0.0.1:8000", "Where the API runs"),
    ("username", "demo", "A tenant admin to log in as (the demo tenant's, by default)"),
    ("password", "password", "That user's password"),
    ("contact", "+14155550123", "The customer the messages go to"),
    (
        "webhookUrl",
        "https://example.com/wa-gateway/events",
        "An endpoint of your own system for the webhook requests: it must resolve to a public address "
        "(unless the gateway runs with WEBHOOKS_ALLOW_PRIVATE_NETWORKS=true)",
    ),
    (
        "adminUsername",
        "",
        "A platform admin (`wa-gateway user create platform <name> --role platform_admin`): the "
        "'Platform admin' folder runs only when this is set",
    ),
    ("adminPassword", "", "That platform admin's password"),
)

# Variables the run's scripts set, with what they hold.
SAVED_VARIABLES: Mapping[str, str] = {
    "accessToken": "Set by the login and refresh requests; sent as the Bearer token",
    "refreshToken": "Set by the login and refresh requests; sent by the refresh request",
    "messageId": "The message the run sent",
    "failedMessageId": "The message the sandbox refused, to send again",
    "sendAt": "When the scheduled message is to go (tomorrow, then the day after)",
    "scheduledMessageId": "The message the run schedules (reschedules, then cancels)",
    "conversationId": "The latest conversation, read by its id and marked seen",
    "senderNumber": "The number of the sender the run adds (and removes)",
    "senderId": "The sender the run adds (and removes)",
    "newUsername": "The agent the run creates (and deactivates)",
    "newUserPassword": "That agent's first password",
    "newUserNextPassword": "The password that agent changes to",
    "userId": "The agent the run creates (and deactivates)",
    "userAccessToken": "That agent's access token",
    "apiKeyId": "The API key the run creates (and revokes)",
    "endpointId": "The webhook endpoint the run creates (and deletes)",
    "templateName": "The message template the run creates (and deletes)",
    "templateId": "That template's id",
    "contactNumber": "The number of the contact the run adds (and deletes)",
    "contactId": "That contact's id",
    "campaignTemplateName": "The message template the campaigns send",
    "campaignTemplateId": "That template's id",
    "campaignStartAt": "When the campaigns would start (tomorrow: they are canceled before)",
    "campaignId": "The campaign the run creates, pauses, resumes and cancels",
    "csvCampaignId": "The campaign whose audience the run uploads as CSV (then cancels)",
    "deliveryId": "A delivery to that endpoint",
    "adminAccessToken": "The platform admin's access token",
    "tenantName": "The tenant the platform admin creates",
    "tenantId": "That tenant's id",
    "tenantAdminUsername": "That tenant's first admin",
    "tenantAdminPassword": "That admin's password",
    "tenantAdminAccessToken": "That admin's access token",
    "twilioAccountSid": "Twilio credentials set on that tenant (made up: the tenant stays on the sandbox)",
    "twilioAuthToken": "Twilio auth token set on that tenant (made up)",
    "metaAccessToken": "A Meta access token of an account added to that tenant (made up)",
    "metaSecret": "The app secret and verify token of that account (made up)",
    "providerAccountId": "The Meta account the run adds to that tenant (and removes)",
}


@dataclass(frozen=True, slots=True)
class Step:
    """One request of the run: an operation of the schema, and what the run needs besides.

    ``body`` keys replace the schema example's (the rest of the example stays); ``path`` and ``query``
    give parameter values (a query parameter given here is sent); ``headers`` give header parameter
    values and send them; ``bearer`` names the variable holding the Bearer token when it is not the
    folder's; ``expect`` the statuses that pass (default: the operation's 2xx answers); ``saves`` maps a
    variable to a JavaScript expression over the answer's JSON ``body``; ``before`` is a pre-request
    script.
    """

    operation_id: str
    name: str | None = None  # an operation used twice needs a second name
    description: str | None = None
    path: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] = field(default_factory=dict)
    bearer: str | None = None
    expect: tuple[int, ...] = ()
    saves: Mapping[str, str] = field(default_factory=dict)
    before: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Folder:
    """Steps run in order; operations no step names are added before ``closing`` when their path
    starts with one of ``paths`` or, failing that, their tag is one of ``tags``.

    ``bearer`` names the variable holding the folder's Bearer token (default: the collection's
    ``accessToken``); ``runs_if`` names a variable without which the folder's requests are skipped.
    """

    name: str
    description: str
    steps: tuple[Step, ...]
    tags: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    closing: tuple[Step, ...] = ()
    bearer: str | None = None
    runs_if: str | None = None


def _set_random(variable: str, expression: str) -> str:
    return f'pm.collectionVariables.set("{variable}", {expression});'


# A fresh value each run, so a run never collides with an earlier one (or with a run that stopped
# half-way and left its user or sender behind).
_RUN_STAMP = "Date.now().toString(36)"
_RANDOM_SID = (
    '"AC" + Array.from({length: 32}, () => "0123456789abcdef"[Math.floor(Math.random() * 16)]).join("")'
)
_RANDOM_TEXT = 'Array.from({length: 4}, () => Math.random().toString(36).slice(2, 10)).join("")'


def wait_until(path: str, condition: str, why: str) -> tuple[str, ...]:
    """A pre-request script that polls ``GET path`` (10 s at most) until ``condition`` holds for its
    JSON ``body``; the request itself then checks the outcome."""
    return (
        f"// {why}",
        "const deadline = Date.now() + 10000;",
        "function poll() {",
        "    pm.sendRequest({",
        f'        url: pm.variables.replaceIn("{{{{baseUrl}}}}{path}"),',
        '        header: {Authorization: "Bearer " + pm.variables.get("accessToken")},',
        "    }, function (error, response) {",
        "        const body = error ? null : response.json();",
        f"        if (Date.now() < deadline && !(body && {condition})) {{",
        "            setTimeout(poll, 200);",
        "        }",
        "    });",
        "}",
        "poll();",
    )


@dataclass(frozen=True, slots=True)
class Flow:
    """The folders in order; operations whose tag no folder claims get a folder of their tag, placed
    before the folder named ``other_tags_before`` (at the end when there is none)."""

    folders: tuple[Folder, ...]
    other_tags_before: str | None = None


FOLDERS: tuple[Folder, ...] = (
    Folder(
        "Log in",
        "Log in first: the access token (15 minutes) and the refresh token go into the collection's "
        "variables, and every request after sends the access token. Refresh before it expires.",
        steps=(
            Step(
                "login",
                body={"username": "{{username}}", "password": "{{password}}"},
                saves={"accessToken": "body.access_token", "refreshToken": "body.refresh_token"},
            ),
            Step(
                "refreshSession",
                body={"refresh_token": "{{refreshToken}}"},
                saves={"accessToken": "body.access_token", "refreshToken": "body.refresh_token"},
            ),
        ),
        tags=("auth",),
    ),
    Folder(
        "Messages",
        "Send, schedule, read the history, send a failed message again, and fetch the media customers sent.",
        steps=(
            Step(
                "sendMessage",
                body={"to_number": "{{contact}}"},
                headers={"Idempotency-Key": "{{$guid}}"},
                saves={"messageId": "body.id"},
            ),
            Step(
                "sendMessage",
                name="Send a message the sandbox refuses (it fails: +15005550001 is invalid)",
                body={"to_number": "+15005550001", "body": "The sandbox refuses this number"},
                saves={"failedMessageId": "body.id"},
            ),
            Step(
                "sendMessage",
                name="Schedule a message for tomorrow",
                body={"to_number": "{{contact}}", "body": "See you tomorrow", "send_at": "{{sendAt}}"},
                saves={"scheduledMessageId": "body.id"},
                before=(_set_random("sendAt", "new Date(Date.now() + 86400000).toISOString()"),),
            ),
            Step("listScheduledMessages", query={"limit": "10"}),
            Step(
                "rescheduleMessage",
                path={"message_id": "{{scheduledMessageId}}"},
                body={"send_at": "{{sendAt}}"},
                before=(_set_random("sendAt", "new Date(Date.now() + 2 * 86400000).toISOString()"),),
            ),
            Step("cancelScheduledMessage", path={"message_id": "{{scheduledMessageId}}"}),
            Step("listMessages", query={"limit": "10"}),
            Step("getMessage", path={"message_id": "{{messageId}}"}),
            Step(
                "retryMessage",
                path={"message_id": "{{failedMessageId}}"},
                before=wait_until(
                    "/api/messages/{{failedMessageId}}",
                    'body.status === "failed"',
                    "Only a failed message is sent again: wait until the sandbox has refused it.",
                ),
            ),
            Step(
                "markMessageRead",
                name="Mark a message read (refused: only a customer's message can be)",
                path={"message_id": "{{messageId}}"},
                body={"typing_indicator": True},
                expect=(422,),
            ),
            Step(
                "getMedia",
                name="Fetch a media file a customer sent (the demo has none: 404)",
                description="A media file's id is a customer's message's media item's `stored_media_id`, "
                "once the gateway has downloaded it from the provider. The demo tenant's sandbox receives "
                "no media, so the run can have no such id: it asks for one no tenant has, and checks the "
                "404. Put a real `stored_media_id` here to fetch its bytes.",
                path={"media_id": "00000000-0000-4000-8000-000000000000"},
                expect=(404,),
            ),
        ),
        tags=("messages", "media"),
    ),
    Folder(
        "Conversations",
        "One conversation per contact, with WhatsApp's 24-hour session window.",
        steps=(
            Step(
                "listConversations",
                query={"limit": "20"},
                saves={"conversationId": "body.items[0].id"},
            ),
            Step("listConversationMessages", path={"contact": "{{contact}}"}),
            Step("getConversation", path={"conversation_id": "{{conversationId}}"}),
            Step("markConversationSeen", path={"conversation_id": "{{conversationId}}"}),
        ),
        tags=("conversations",),
    ),
    Folder(
        "Retention and a person's data",
        "How long the tenant keeps what its messages said, and a person's access and erasure requests.",
        steps=(
            Step("getRetention"),
            Step("setRetention", body={"days": 3650, "mode": "redact"}),
            Step(
                "setRetention",
                name="Keep everything again",
                body={"days": None, "mode": "redact"},
            ),
            Step("exportContactData", path={"contact": "{{contact}}"}),
            Step(
                "eraseContactData",
                name="Erase a person the tenant holds nothing about",
                description="Erasing removes every message to or from the number, in every WhatsApp "
                "form of it, and their conversation: the run erases a number it never wrote to.",
                path={"contact": "+14155550999"},
            ),
        ),
        tags=("retention", "contacts"),
    ),
    Folder(
        "Consent",
        "Who may be messaged: the run opts a number no other request uses out and back in, and reads the "
        "tenant's consent policy (then sets it to the defaults: run it on a demo tenant).",
        steps=(
            Step("getConsentPolicy"),
            Step(
                "setConsentPolicy",
                body={
                    "opt_out_keywords": [],
                    "opt_in_keywords": [],
                    "keyword_mode": "add",
                    "opt_out_reply": None,
                    "opt_in_reply": None,
                    "allowed_categories": ["authentication"],
                },
            ),
            Step(
                "setConsent",
                path={"phone": "+14155550199"},
                body={"state": "opted_out", "note": "Set by the Postman collection"},
            ),
            Step("getConsent", path={"phone": "+14155550199"}),
            # "+" in a query string is a space: the number's plus goes percent-encoded.
            Step("listConsentLedger", query={"phone": "%2B14155550199", "limit": "20"}),
            Step(
                "setConsent",
                name="Opt the person back in",
                path={"phone": "+14155550199"},
                body={"state": "opted_in", "note": "Set by the Postman collection"},
            ),
        ),
        tags=("consent",),
    ),
    Folder(
        "Dashboard",
        "The tenant's activity: messages, open conversations, delivery rates, what needs care.",
        steps=(Step("readDashboard"),),
        tags=("dashboard",),
    ),
    Folder(
        "Senders",
        "The tenant's WhatsApp numbers: the run adds one, renames it and removes it.",
        steps=(
            Step("listSenders"),
            Step(
                "addSender",
                body={"phone_number": "{{senderNumber}}", "label": "Added by the Postman collection"},
                saves={"senderId": "body.id"},
                before=(
                    _set_random("senderNumber", '"+1415555" + String(Date.now() % 10000).padStart(4, "0")'),
                ),
            ),
            Step(
                "updateSender",
                path={"sender_id": "{{senderId}}"},
                body={"label": "Renamed by the Postman collection"},
            ),
            Step("removeSender", path={"sender_id": "{{senderId}}"}),
        ),
        tags=("senders",),
    ),
    Folder(
        "Users",
        "The tenant's users: the run creates an agent, who logs in and changes their password; then "
        "the agent is deactivated (users are never deleted).",
        steps=(
            Step("listUsers"),
            Step(
                "createUser",
                body={"username": "{{newUsername}}", "password": "{{newUserPassword}}", "role": "agent"},
                saves={"userId": "body.id"},
                before=(
                    _set_random("newUsername", f'"postman-" + {_RUN_STAMP}'),
                    _set_random("newUserPassword", _RANDOM_TEXT),
                ),
            ),
            Step("getUser", path={"user_id": "{{userId}}"}),
            Step(
                "login",
                name="Log in as the new agent",
                body={"username": "{{newUsername}}", "password": "{{newUserPassword}}"},
                saves={"userAccessToken": "body.access_token"},
            ),
            Step(
                "changePassword",
                bearer="userAccessToken",
                body={"current_password": "{{newUserPassword}}", "new_password": "{{newUserNextPassword}}"},
                before=(_set_random("newUserNextPassword", _RANDOM_TEXT),),
            ),
            Step(
                "updateUser",
                description="Deactivates the agent the run created: their sessions end at once.",
                path={"user_id": "{{userId}}"},
                body={"is_active": False},
            ),
        ),
        tags=("users",),
    ),
    Folder(
        "API keys",
        "Keys for systems that call the API: the run creates one and revokes it.",
        steps=(
            Step("listApiKeys"),
            Step(
                "createApiKey",
                body={"name": "Made by the Postman collection", "role": "agent"},
                saves={"apiKeyId": "body.id"},
            ),
            Step("revokeApiKey", path={"key_id": "{{apiKeyId}}"}),
        ),
        tags=("api-keys",),
    ),
    Folder(
        "Webhook endpoints",
        "Events POSTed to your own system, signed: the run registers `{{webhookUrl}}`, sends a message "
        "so that it has a delivery, replays it, and deletes the endpoint.",
        steps=(
            Step(
                "createWebhookEndpoint",
                body={"url": "{{webhookUrl}}", "description": "Made by the Postman collection"},
                saves={"endpointId": "body.id"},
            ),
            Step("listWebhookEndpoints"),
            Step("getWebhookEndpoint", path={"endpoint_id": "{{endpointId}}"}),
            Step(
                "updateWebhookEndpoint",
                path={"endpoint_id": "{{endpointId}}"},
                body={"description": "Renamed by the Postman collection"},
            ),
            Step(
                "sendMessage",
                name="Send a message: the endpoint is told of it",
                body={"to_number": "{{contact}}", "body": "A message the webhook endpoint hears of"},
            ),
            Step(
                "listWebhookDeliveries",
                path={"endpoint_id": "{{endpointId}}"},
                saves={"deliveryId": "body.items[0].id"},
                before=wait_until(
                    "/api/webhooks/{{endpointId}}/deliveries",
                    "body.items.length > 0",
                    "The message's events are queued for the endpoint as its status changes.",
                ),
            ),
            Step(
                "getWebhookDelivery",
                path={"endpoint_id": "{{endpointId}}", "delivery_id": "{{deliveryId}}"},
            ),
            Step(
                "replayWebhookDelivery",
                path={"endpoint_id": "{{endpointId}}", "delivery_id": "{{deliveryId}}"},
            ),
            Step("rotateWebhookSecret", path={"endpoint_id": "{{endpointId}}"}),
            Step("deleteWebhookEndpoint", path={"endpoint_id": "{{endpointId}}"}),
        ),
        tags=("webhook endpoints",),
    ),
    Folder(
        "Templates",
        "The tenant's message templates: the run creates one (in the sandbox, where it is approved at "
        "once), previews it, exports the catalogue, plans and applies a document that changes nothing, "
        "syncs, and deletes the template.",
        steps=(
            Step(
                "createTemplate",
                body={
                    "name": "{{templateName}}",
                    "language": "en",
                    "category": "utility",
                    "header": None,
                    "body": "Your order has shipped. Reply if anything is wrong.",
                    "footer": "Made by the Postman collection",
                    "buttons": [],
                    "examples": {},
                    "accounts": ["sandbox"],
                },
                saves={"templateId": "body.id"},
                before=(_set_random("templateName", '"postman_" + ' + _RUN_STAMP),),
            ),
            Step("listTemplates", query={"limit": "10"}),
            Step("getTemplate", path={"template_id": "{{templateId}}"}),
            Step(
                "previewTemplate",
                path={"template_id": "{{templateId}}"},
                body={"variables": {}, "header_media_url": None},
            ),
            Step("exportTemplates"),
            Step("planTemplates", body={"templates": [], "delete_missing": False, "accounts": None}),
            Step("applyTemplates", body={"templates": [], "delete_missing": False, "accounts": None}),
            Step("syncTemplates"),
            Step("deleteTemplate", path={"template_id": "{{templateId}}"}),
        ),
        tags=("templates",),
    ),
    Folder(
        "Contacts",
        "The tenant's contact book: the run adds a contact, finds it, changes it, exports the book, "
        "imports a one-row file and deletes the contact.",
        steps=(
            Step(
                "createContact",
                body={
                    "phone_number": "{{contactNumber}}",
                    "name": "Added by the Postman collection",
                    "attributes": {"source": "postman"},
                    "tags": ["postman"],
                    "notes": None,
                },
                saves={"contactId": "body.id"},
                before=(
                    _set_random("contactNumber", '"+1415556" + String(Date.now() % 10000).padStart(4, "0")'),
                ),
            ),
            Step("listContacts", query={"limit": "10", "tag": "postman"}),
            Step("getContact", path={"contact_id": "{{contactId}}"}),
            Step(
                "updateContact",
                path={"contact_id": "{{contactId}}"},
                body={"attributes": {"source": None, "run": "postman"}, "attributes_mode": "merge"},
            ),
            Step("exportContacts"),
            Step("importContacts"),
            Step("deleteContact", path={"contact_id": "{{contactId}}"}),
        ),
        tags=("contacts",),
    ),
    Folder(
        "Campaigns",
        "A template to many people at a pace: the run creates a template and a campaign of one listed "
        "recipient starting tomorrow, reads it with its progress and recipients, pauses, resumes and "
        "cancels it (so nothing is sent); a second campaign takes its audience as an uploaded CSV file.",
        steps=(
            Step(
                "createTemplate",
                name="A template for the campaign",
                body={
                    "name": "{{campaignTemplateName}}",
                    "language": "en",
                    "category": "marketing",
                    "header": None,
                    # No variables: Postman would read {{1}} as one of its own.
                    "body": "Our spring sale starts today: everything 20% off until Sunday.",
                    "footer": None,
                    "buttons": [],
                    "examples": {},
                    "accounts": ["sandbox"],
                },
                saves={"campaignTemplateId": "body.id"},
                before=(
                    _set_random("campaignTemplateName", '"postman_campaign_" + ' + _RUN_STAMP),
                    _set_random("campaignStartAt", "new Date(Date.now() + 24 * 3600 * 1000).toISOString()"),
                ),
            ),
            Step(
                "createCampaign",
                body={
                    "name": "Spring sale (Postman collection)",
                    "template": {"name": "{{campaignTemplateName}}", "language": "en"},
                    "audience": {
                        "recipients": [{"number": "+14155550123", "attributes": {"first_name": "Ana"}}],
                        "contacts": None,
                        "csv": False,
                    },
                    "pace": {"messages_per_second": 1, "daily_cap": None},
                    "sender_number": None,
                    "variables": {},
                    "start_at": "{{campaignStartAt}}",
                    "quiet_hours": None,
                },
                saves={"campaignId": "body.id"},
            ),
            Step("listCampaigns", query={"limit": "10"}),
            Step("getCampaign", path={"campaign_id": "{{campaignId}}"}),
            Step("listCampaignRecipients", path={"campaign_id": "{{campaignId}}"}, query={"limit": "50"}),
            Step("exportCampaignRecipients", path={"campaign_id": "{{campaignId}}"}),
            Step("pauseCampaign", path={"campaign_id": "{{campaignId}}"}),
            Step("resumeCampaign", path={"campaign_id": "{{campaignId}}"}),
            Step("cancelCampaign", path={"campaign_id": "{{campaignId}}"}),
            Step(
                "createCampaign",
                name="A campaign whose audience is a CSV file",
                body={
                    "name": "CSV audience (Postman collection)",
                    "template": {"name": "{{campaignTemplateName}}", "language": "en"},
                    "audience": {"recipients": None, "contacts": None, "csv": True},
                    "pace": {"messages_per_second": 1, "daily_cap": None},
                    "sender_number": None,
                    "variables": {},
                    "start_at": "{{campaignStartAt}}",
                    "quiet_hours": None,
                },
                saves={"csvCampaignId": "body.id"},
            ),
            Step("uploadCampaignAudience", path={"campaign_id": "{{csvCampaignId}}"}),
            Step(
                "cancelCampaign",
                name="Cancel the CSV campaign",
                path={"campaign_id": "{{csvCampaignId}}"},
            ),
        ),
        tags=("campaigns",),
    ),
    Folder(
        "Credentials",
        "Whether the tenant has Twilio credentials, and its provider accounts: read only here, so the "
        "run never replaces a tenant's real ones ('Platform admin' sets them on a tenant of its own).",
        steps=(Step("getCredentials"), Step("listProviderAccounts")),
        tags=("credentials", "provider accounts"),
    ),
    Folder(
        "Twilio's callbacks",
        "Twilio calls these, signed with the tenant's auth token (`X-Twilio-Signature`). Sent from "
        "here unsigned, they are refused with 403 and nothing is stored: that refusal is what the "
        "requests check. Point Twilio at them (through PUBLIC_BASE_URL) to receive real messages.",
        steps=(
            Step("receiveTwilioMessage", expect=(403,)),
            Step("receiveTwilioMessageLegacy", expect=(403,)),
            Step("recordTwilioStatus", expect=(403,)),
        ),
        paths=("/webhooks/twilio", "/webhook/twilio"),
    ),
    Folder(
        "Meta's callbacks",
        "Meta calls these: the subscription handshake (the challenge is echoed for a configured Meta "
        "account's verify token) and its webhooks, signed with the app secret (`X-Hub-Signature-256`). "
        "Sent from here with a verify token that is none of the accounts' and unsigned, they are refused "
        "with 403 and nothing is stored: that refusal is what the requests check. Give Meta "
        "PUBLIC_BASE_URL/webhooks/meta to receive real messages.",
        steps=(
            Step(
                "verifyMetaWebhook",
                query={
                    "hub.mode": "subscribe",
                    "hub.verify_token": "not-a-configured-verify-token",
                    "hub.challenge": "1158201444",
                },
                expect=(403,),
            ),
            Step("receiveMetaWebhook", expect=(403,)),
        ),
        paths=("/webhooks/meta",),
    ),
    Folder(
        "Operations",
        "Probes for load balancers and orchestrators: no credential.",
        steps=(Step("health"), Step("readiness")),
        tags=("operations",),
    ),
    Folder(
        "Audit trail",
        "Who did what, from where and when: the run's logins, the user, key and endpoint it made.",
        steps=(),
        tags=("audit",),
    ),
    Folder(
        "Platform admin",
        "Runs only with a platform admin's login (set adminUsername and adminPassword; skipped "
        "otherwise). The admin creates a tenant of the run's own and its first admin, who sets its "
        "Twilio credentials (made up: the tenant stays on the sandbox); the tenant is suspended and "
        "reactivated, and the admin logs out.",
        steps=(
            Step(
                "login",
                name="Log in as a platform admin",
                body={"username": "{{adminUsername}}", "password": "{{adminPassword}}"},
                saves={"adminAccessToken": "body.access_token"},
            ),
            Step("adminListTenants"),
            Step("adminReadUsage"),
            Step(
                "adminCreateTenant",
                body={"name": "{{tenantName}}", "provider": "sandbox"},
                saves={"tenantId": "body.id"},
                before=(_set_random("tenantName", f'"Postman " + {_RUN_STAMP}'),),
            ),
            Step("adminGetTenant", path={"tenant_id": "{{tenantId}}"}),
            Step("adminUpdateTenant", path={"tenant_id": "{{tenantId}}"}, body={"sends_per_minute": 60}),
            Step(
                "adminCreateTenantUser",
                path={"tenant_id": "{{tenantId}}"},
                body={
                    "username": "{{tenantAdminUsername}}",
                    "password": "{{tenantAdminPassword}}",
                    "role": "tenant_admin",
                },
                before=(
                    _set_random("tenantAdminUsername", f'"postman-admin-" + {_RUN_STAMP}'),
                    _set_random("tenantAdminPassword", _RANDOM_TEXT),
                ),
            ),
            Step(
                "login",
                name="Log in as the new tenant's admin",
                body={"username": "{{tenantAdminUsername}}", "password": "{{tenantAdminPassword}}"},
                saves={"tenantAdminAccessToken": "body.access_token"},
            ),
            Step(
                "setCredentials",
                bearer="tenantAdminAccessToken",
                body={"account_sid": "{{twilioAccountSid}}", "auth_token": "{{twilioAuthToken}}"},
                before=(
                    _set_random(
                        "twilioAccountSid",
                        _RANDOM_SID,
                    ),
                    _set_random("twilioAuthToken", _RANDOM_TEXT),
                ),
            ),
            Step(
                "addProviderAccount",
                bearer="tenantAdminAccessToken",
                body={
                    "provider": "meta",
                    "label": "Added by the Postman collection",
                    "meta": {
                        "business_account_id": "102290129340398",
                        "access_token": "{{metaAccessToken}}",
                        "app_secret": "{{metaSecret}}",
                        "verify_token": "{{metaSecret}}",
                    },
                },
                saves={"providerAccountId": "body.id"},
                before=(
                    _set_random("metaAccessToken", _RANDOM_TEXT),
                    _set_random("metaSecret", _RANDOM_TEXT),
                ),
            ),
            Step(
                "getProviderAccount",
                bearer="tenantAdminAccessToken",
                path={"account_id": "{{providerAccountId}}"},
            ),
            Step(
                "updateProviderAccount",
                bearer="tenantAdminAccessToken",
                path={"account_id": "{{providerAccountId}}"},
                body={"label": "Renamed by the Postman collection"},
            ),
            Step(
                "removeProviderAccount",
                bearer="tenantAdminAccessToken",
                path={"account_id": "{{providerAccountId}}"},
            ),
            Step("adminSuspendTenant", path={"tenant_id": "{{tenantId}}"}),
            Step("adminReactivateTenant", path={"tenant_id": "{{tenantId}}"}),
        ),
        tags=("admin",),
        paths=("/admin/",),  # only a platform admin may call these, whatever their tag
        closing=(Step("logout", name="Log out the platform admin"),),
        bearer="adminAccessToken",
        runs_if="adminUsername",
    ),
    Folder(
        "Log out",
        "Last: ends the session (the access and refresh tokens stop working at once).",
        steps=(),
        closing=(Step("logout"),),
    ),
)

FLOW = Flow(FOLDERS, other_tags_before="Platform admin")
