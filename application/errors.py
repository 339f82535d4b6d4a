"""Errors a use case reports to whoever called it; entrypoints map each class to a response."""


class ApplicationError(Exception):
    """Base class: the message is safe to show to the client."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class AuthenticationFailed(ApplicationError):
    def __init__(self) -> None:
        # One message for an unknown user and a wrong password, so neither can be told apart.
        super().__init__("the username or password is wrong")


class InvalidToken(ApplicationError):
    pass


class AccessDenied(ApplicationError):
    pass


class PersonRequired(AccessDenied):
    """An API key asked for what only a person who logged in may do (see
    application/authorization.py)."""


class NotFound(ApplicationError):
    pass


class AlreadyExists(ApplicationError):
    pass


class SenderBusy(ApplicationError):
    """A sender cannot move to another provider account while messages of its are in flight."""


class AccountInUse(ApplicationError):
    """A provider account cannot go while senders send through it."""


class InvalidInput(ApplicationError):
    """Input that is well-formed but breaks a rule of the use case."""


class UnknownSender(InvalidInput):
    pass


class NoDefaultSender(InvalidInput):
    pass


class SessionWindowClosed(InvalidInput):
    """A free-form message to a contact outside their 24-hour customer service window: only a template
    (a ``content_sid``) may be sent until the contact writes again."""


class RecipientOptedOut(InvalidInput):
    """A send to a person who opted out at this tenant, of a kind the tenant's consent policy does not
    let through (only templates of its allowed categories do)."""


class ProviderRefused(InvalidInput):
    """The provider refused what was asked of it (not a send: those end in the message's status)."""


class ProviderUnavailable(ApplicationError):
    """The provider gave no answer to a request made on the client's behalf; it may be tried again."""


class UnsupportedByProvider(InvalidInput):
    """The provider the message would go through cannot send its kind (interactive buttons through Twilio,
    which sends them only as Content templates, say): refused before anything is stored. The detail says
    what to send instead."""


class TemplateNotFound(InvalidInput):
    """A send names a template the tenant's catalogue does not have (for the sender's account)."""


class TemplateNotApproved(InvalidInput):
    """A send names a template that is not approved (pending, rejected, paused, disabled)."""


class UnknownMessageReference(InvalidInput):
    """A reaction or a reply names one of our messages by its id, and the tenant has no such message, or
    no provider has taken it yet (so there is no provider id to point WhatsApp at)."""


class InvalidCursor(ApplicationError):
    pass


class StorageUnavailable(ApplicationError):
    """The database could not be reached; the request may be retried later."""


class TransactionConflict(ApplicationError):
    """The database gave the transaction up for a concurrent one that touched the same rows (a deadlock,
    a serialization failure). Nothing of it was kept, and running it again usually succeeds: use cases
    that may do so run it through ``ConflictRetry`` (transactions.py)."""

    def __init__(
        self, detail: str = "a concurrent change to the same data came first; send the request again"
    ) -> None:
        super().__init__(detail)


class RateLimited(ApplicationError):
    """``scope`` names the limit (``address``, ``login``, …): a metric label, never shown to clients."""

    def __init__(
        self,
        detail: str,
        *,
        retry_after_seconds: int,
        limit: int,
        window_seconds: int,
        scope: str = "requests",
    ) -> None:
        super().__init__(detail)
        self.retry_after_seconds = max(1, retry_after_seconds)
        self.limit = limit
        self.window_seconds = window_seconds
        self.scope = scope


class CredentialsUnreadable(ApplicationError):
    """Stored provider credentials do not open: the encryption keys changed, or the row was tampered with.

    Nothing the client can fix; an operator has to restore the key or set the credentials again.
    """

    def __init__(self) -> None:
        super().__init__(
            "the tenant's stored provider credentials cannot be read; ask an operator to reset them"
        )


class CallbackRejected(ApplicationError):
    """A provider callback that cannot be proven to come from the provider for one of our tenants.

    One answer for an unknown number, an account that does not own it, a tenant without credentials and
    a bad or missing signature, so a forger learns nothing about which tenants or numbers exist.
    """

    def __init__(
        self, detail: str = "the webhook's signature is not valid for the number and account it names"
    ) -> None:
        super().__init__(detail)


class SubscriptionRefused(CallbackRejected):
    """A provider's check of a callback URL (Meta's subscription handshake) with a verify token that is
    none of our accounts' at that provider: the challenge is not echoed."""

    def __init__(self) -> None:
        super().__init__("the verify token is not the one of any account configured here for this provider")


class IdempotencyKeyReused(InvalidInput):
    """The key was used before for a different request."""


class IdempotencyKeyInUse(ApplicationError):
    """The first request with this key has not finished yet."""


class MessageNotRetryable(ApplicationError):
    """Only a failed outbound message can be sent again."""


class NotScheduled(ApplicationError):
    """Only a message still scheduled (no worker has taken it) can be rescheduled or canceled."""


class WebhookUrlRefused(InvalidInput):
    """A webhook URL whose host is, or resolves to, an address webhooks may not reach (loopback,
    link-local such as 169.254.169.254, private networks ...): refused at registration and at delivery."""


class WebhookEndpointDisabled(ApplicationError):
    """The endpoint is disabled (by its tenant, or by us after it answered 410): enable it first."""


class CurrentPasswordWrong(ApplicationError):
    """Changing one's password needs the current one, and it was not right."""

    def __init__(self) -> None:
        super().__init__("the current password is wrong")


class MediaNotFound(NotFound):
    """Nothing is stored under that media key (never stored, or deleted)."""

    def __init__(self, key: str) -> None:
        super().__init__("no media is stored under that key")
        self.key = key


class MediaTooLarge(InvalidInput):
    """A media file larger than the store takes (``MEDIA_MAX_BYTES``): nothing of it was kept."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"the media file is larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


class InvalidMediaKey(InvalidInput):
    """A media key that could name something outside the store (see application/ports/media_store.py)."""


class MediaStorageUnavailable(StorageUnavailable):
    """The media store could not be reached or refused the request (a full disk, a missing bucket, wrong
    keys); the request may be retried later. The detail names no path or credential."""
