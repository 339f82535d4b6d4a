"""Consent: whether a tenant may message a person, as the person (or the tenant for them) last said.

A person is their number's ``PhoneNumber.identity``: one state whichever WhatsApp form of the number
they write from or are sent to, and with no contact record needed (it works as a suppression list).
Without a recorded state a person was never asked, and may be messaged. Every change is kept in an
append-only ledger with where it came from (``ConsentSource``), who made it and its evidence (the
customer's message that said STOP).

Recognition: a customer's message opts them out (or back in) when the whole of it, normalised, is one
of the keywords: trimmed, case-folded, accents and punctuation around it removed, inner spaces made
one (``"  Stop! "``, ``"stop."``, ``"BAJA"``, ``"Baja."`` and ``"báJA"`` all read ``stop``/``baja``). A
reply to Meta's marketing opt-out button ("Stop promotions", as WhatsApp labels it per language) opts
out as ``provider_button``.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID, uuid4

from domain.errors import DomainError
from domain.messaging.messages import MessageContent
from domain.templates.definition import TemplateCategory

MAX_KEYWORDS = 50  # per list
MAX_KEYWORD_LENGTH = 64
MAX_REPLY_LENGTH = 1024
MAX_NOTE_LENGTH = 500
MAX_ACTOR_LENGTH = 64
# The longest message read as a keyword: one of at most 64 characters, with spaces and punctuation around.
_LONGEST_KEYWORD_MESSAGE = 4 * MAX_KEYWORD_LENGTH


class InvalidConsentPolicy(DomainError):
    pass


class InvalidConsentChange(DomainError):
    pass


class ConsentState(enum.StrEnum):
    OPTED_IN = "opted_in"
    OPTED_OUT = "opted_out"


class ConsentSource(enum.StrEnum):
    KEYWORD = "keyword"  # the customer wrote an opt-out or opt-in keyword
    API = "api"  # POST /api/consent/{phone}
    IMPORT = "import"  # a bulk import of a list kept elsewhere
    CONSOLE = "console"  # a person in the web console
    PROVIDER_BUTTON = "provider_button"  # the customer tapped the provider's opt-out button


class KeywordMode(enum.StrEnum):
    ADD = "add"  # the tenant's keywords count beside the defaults
    REPLACE = "replace"  # only the tenant's keywords count


# The defaults, by language; a word in two languages' lists (PARAR, CANCELAR) is one keyword.
DEFAULT_OPT_OUT_KEYWORDS: dict[str, tuple[str, ...]] = {
    "en": ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "OPT OUT"),
    "es": ("BAJA", "ALTO", "PARAR", "DETENER", "CANCELAR", "DESUSCRIBIR"),
    "pt": ("PARAR", "SAIR", "CANCELAR", "DESCADASTRAR"),
}
DEFAULT_OPT_IN_KEYWORDS: dict[str, tuple[str, ...]] = {
    "en": ("START", "UNSTOP", "SUBSCRIBE", "OPTIN", "OPT IN"),
    "es": ("ALTA", "INICIAR", "SUSCRIBIR"),
    "pt": ("ENTRAR", "VOLTAR", "INSCREVER"),
}
# The labels WhatsApp gives the marketing opt-out quick-reply button Meta adds to marketing templates
# (its reply comes back as a button reply whose payload and text are the label).
PROVIDER_OPT_OUT_BUTTONS = ("Stop promotions", "Detener promociones", "Parar promoções")


def normalise(text: str) -> str:
    """``text`` as keywords are compared: trimmed, case-folded, without accents, without punctuation
    before or after, inner whitespace made one space."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(character for character in decomposed if not unicodedata.combining(character))
    words = " ".join(bare.split())
    start, end = 0, len(words)
    while start < end and _is_punctuation_or_space(words[start]):
        start += 1
    while end > start and _is_punctuation_or_space(words[end - 1]):
        end -= 1
    return words[start:end]


def _is_punctuation_or_space(character: str) -> bool:
    # Every script's punctuation (Unicode categories P*: "!", "¡", "¿", "…", quotes) and the space.
    return character == " " or unicodedata.category(character).startswith("P")


def _normalised_set(words: Iterable[str]) -> frozenset[str]:
    return frozenset(normalise(word) for word in words)


_DEFAULT_OPT_OUT = _normalised_set(word for words in DEFAULT_OPT_OUT_KEYWORDS.values() for word in words)
_DEFAULT_OPT_IN = _normalised_set(word for words in DEFAULT_OPT_IN_KEYWORDS.values() for word in words)
_PROVIDER_OPT_OUT = _normalised_set(PROVIDER_OPT_OUT_BUTTONS)
DEFAULT_ALLOWED_CATEGORIES = frozenset({TemplateCategory.AUTHENTICATION})


@dataclass(frozen=True, slots=True)
class ConsentPolicy:
    """A tenant's consent rules: its keywords (beside or instead of the defaults), the replies that
    confirm a change (none: no reply), and the template categories that still reach a person who opted
    out (by default authentication only: a one-time code is not promotion)."""

    tenant_id: UUID
    opt_out_keywords: tuple[str, ...] = ()
    opt_in_keywords: tuple[str, ...] = ()
    keyword_mode: KeywordMode = KeywordMode.ADD
    opt_out_reply: str | None = None
    opt_in_reply: str | None = None
    allowed_categories: frozenset[TemplateCategory] = DEFAULT_ALLOWED_CATEGORIES
    updated_at: datetime | None = None  # None: never set, the defaults

    def __post_init__(self) -> None:
        out = _checked_keywords(self.opt_out_keywords, "opt_out_keywords")
        into = _checked_keywords(self.opt_in_keywords, "opt_in_keywords")
        object.__setattr__(self, "opt_out_keywords", out)
        object.__setattr__(self, "opt_in_keywords", into)
        for name in ("opt_out_reply", "opt_in_reply"):
            reply = getattr(self, name)
            if reply is not None and not reply.strip():
                object.__setattr__(self, name, None)
            elif reply is not None and len(reply) > MAX_REPLY_LENGTH:
                raise InvalidConsentPolicy(f"{name} is at most {MAX_REPLY_LENGTH} characters")
        both = sorted(self.opt_out_words & self.opt_in_words)
        if both:
            raise InvalidConsentPolicy(
                f"a keyword opts out or in, not both: {', '.join(both)} is in both lists "
                "(counting the defaults, unless keyword_mode is replace)"
            )

    @property
    def opt_out_words(self) -> frozenset[str]:
        own = frozenset(self.opt_out_keywords)
        return own if self.keyword_mode is KeywordMode.REPLACE else own | _DEFAULT_OPT_OUT

    @property
    def opt_in_words(self) -> frozenset[str]:
        own = frozenset(self.opt_in_keywords)
        return own if self.keyword_mode is KeywordMode.REPLACE else own | _DEFAULT_OPT_IN

    def recognise(self, content: MessageContent) -> tuple[ConsentState, ConsentSource] | None:
        """What a customer's message says of their consent: the provider's opt-out button, or a keyword
        (the whole message); None for anything else."""
        reply = content.reply
        if reply is not None and (
            normalise(reply.id) in _PROVIDER_OPT_OUT or normalise(reply.title) in _PROVIDER_OPT_OUT
        ):
            return ConsentState.OPTED_OUT, ConsentSource.PROVIDER_BUTTON
        if not may_say_consent(content):
            return None
        said = normalise(content.body)
        if said in self.opt_out_words:
            return ConsentState.OPTED_OUT, ConsentSource.KEYWORD
        if said in self.opt_in_words:
            return ConsentState.OPTED_IN, ConsentSource.KEYWORD
        return None

    def reply_for(self, state: ConsentState) -> str | None:
        return self.opt_out_reply if state is ConsentState.OPTED_OUT else self.opt_in_reply

    def allows(self, category: TemplateCategory | None) -> bool:
        """Whether a template of ``category`` still goes to a person who opted out (one of no known
        category, a Content SID the catalogue does not hold, does not)."""
        return category is not None and category in self.allowed_categories


def may_say_consent(content: MessageContent) -> bool:
    """Whether a message could be a keyword or the opt-out button at all, whatever a policy's keywords:
    a reply, or a short text (a keyword is at most 64 characters; a few more allow for spaces and
    punctuation around it). Lets most messages by without reading the tenant's policy."""
    return content.reply is not None or 0 < len(content.body) <= _LONGEST_KEYWORD_MESSAGE


def _checked_keywords(words: Iterable[str], name: str) -> tuple[str, ...]:
    normalised: list[str] = []
    for word in words:
        if len(word) > MAX_KEYWORD_LENGTH:
            raise InvalidConsentPolicy(f"{name}: a keyword is at most {MAX_KEYWORD_LENGTH} characters")
        plain = normalise(word)
        if not plain:
            raise InvalidConsentPolicy(f"{name}: {word!r} has nothing left once trimmed of punctuation")
        if plain not in normalised:
            normalised.append(plain)
    if len(normalised) > MAX_KEYWORDS:
        raise InvalidConsentPolicy(f"{name}: at most {MAX_KEYWORDS} keywords")
    return tuple(normalised)


def default_policy(tenant_id: UUID) -> ConsentPolicy:
    return ConsentPolicy(tenant_id=tenant_id)


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """A person's current consent at a tenant: the last change that set it."""

    tenant_id: UUID
    identity: str
    number: str  # the form of the number the last change was made with
    state: ConsentState
    source: ConsentSource
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class ConsentChange:
    """One entry of the ledger: someone said a person is opted in or out.

    ``changed`` tells whether it changed the state (a second STOP is kept, and changes nothing).
    ``actor`` is who made it: ``contact`` (the person, by message or button), ``user:<id>``,
    ``api_key:<id>``, ``operator``. ``evidence_message_id`` is the customer's message when it came from
    one."""

    tenant_id: UUID
    identity: str
    number: str
    state: ConsentState
    source: ConsentSource
    actor: str
    at: datetime
    changed: bool = True
    evidence_message_id: UUID | None = None
    note: str | None = None
    id: UUID = field(default_factory=uuid4)
    sequence: int | None = None  # its place in the ledger, once stored

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise InvalidConsentChange("a consent change's time must be timezone-aware")
        if self.note is not None and len(self.note) > MAX_NOTE_LENGTH:
            raise InvalidConsentChange(f"note is at most {MAX_NOTE_LENGTH} characters")
        if not self.actor or len(self.actor) > MAX_ACTOR_LENGTH:
            raise InvalidConsentChange(f"a consent change's actor is 1 to {MAX_ACTOR_LENGTH} characters")

    def as_record(self) -> ConsentRecord:
        return ConsentRecord(
            tenant_id=self.tenant_id,
            identity=self.identity,
            number=self.number,
            state=self.state,
            source=self.source,
            changed_at=self.at,
        )


CONTACT_ACTOR = "contact"
