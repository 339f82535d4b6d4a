"""A shared read that knows whether it is still current: the Twilio signers and the Meta apps are kept
this way, in step with the database's change notifications."""

from __future__ import annotations

from application.shared_outcome import VersionedOutcome


class Source:
    def __init__(self) -> None:
        self.value = "first"
        self.version: int | None = 1
        self.reads = 0

    async def read(self) -> str:
        self.reads += 1
        return self.value


async def test_a_read_whose_version_holds_is_current_and_shared() -> None:
    source = Source()
    outcome = VersionedOutcome(source.read, version=lambda: source.version, max_age_seconds=60)

    first, again = await outcome.get(), await outcome.get()

    assert (first.value, again.value, source.reads) == ("first", "first", 1)
    assert outcome.current(again)


async def test_a_read_whose_version_moved_is_no_longer_current_and_is_read_again() -> None:
    source = Source()
    outcome = VersionedOutcome(source.read, version=lambda: source.version, max_age_seconds=60)
    before = await outcome.get()

    source.value, source.version = "second", 2

    assert not outcome.current(before)
    after = await outcome.get()
    assert (after.value, source.reads) == ("second", 2)
    assert outcome.current(after)


async def test_without_a_version_nothing_read_is_current() -> None:
    source = Source()
    outcome = VersionedOutcome(source.read, max_age_seconds=60)

    read = await outcome.get()

    assert read.value == "first"
    assert not outcome.current(read)
