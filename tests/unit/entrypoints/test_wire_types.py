from datetime import UTC, datetime, timedelta, timezone

import pytest

from entrypoints.http.wire_types import Moment, decode_moment


@pytest.mark.parametrize(
    ("written", "in_utc"),
    [
        ("2026-05-05T19:26:20+19:44", datetime(2026, 5, 4, 23, 42, 20, tzinfo=UTC)),
        ("0319-05-05T19:26:20.8-23:59", datetime(319, 5, 6, 19, 25, 20, 800_000, tzinfo=UTC)),
        ("2026-01-31T12:00:00Z", datetime(2026, 1, 31, 12, tzinfo=UTC)),
    ],
)
def test_a_moment_is_read_in_utc_whatever_offset_it_was_written_with(written: str, in_utc: datetime) -> None:
    # PostgreSQL refuses offsets beyond ±15:59 that RFC 3339 allows: none may reach it.
    moment = decode_moment(Moment, written)

    assert moment == in_utc
    assert moment.utcoffset() == timedelta(0)


def test_a_moment_without_an_offset_stays_without_one() -> None:
    moment = decode_moment(Moment, "2026-01-31T12:00:00")

    assert moment.tzinfo is None
    assert moment == datetime(2026, 1, 31, 12)


def test_a_moment_with_no_utc_equivalent_is_refused() -> None:
    with pytest.raises(ValueError, match="outside the years 1 to 9999"):
        decode_moment(Moment, datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))).isoformat())
