"""A campaign's schedule: one slot per message at its pace, none in the quiet hours of the tenant's time
zone (across midnight, across a daylight-saving change), and no more than the daily cap a local day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.campaigns.schedule import (
    InvalidSchedule,
    InvalidTimeZone,
    Pace,
    QuietHours,
    ScheduleState,
    checked_time_zone,
    plan_slots,
)

UTC_ZONE = ZoneInfo("UTC")
MADRID = ZoneInfo("Europe/Madrid")
NIGHT = QuietHours.parse("21:00", "08:00")
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_slots_are_spaced_by_the_pace() -> None:
    plan = plan_slots(ScheduleState(NOON), now=NOON, count=4, pace=Pace(20), zone=UTC_ZONE)

    gaps = {later - earlier for earlier, later in zip(plan.slots, plan.slots[1:], strict=False)}
    assert plan.slots[0] == NOON
    assert gaps == {timedelta(milliseconds=50)}
    assert plan.state.next_slot == NOON + timedelta(milliseconds=200)


def test_a_schedule_that_fell_behind_starts_from_now_rather_than_sending_a_burst() -> None:
    late = NOON + timedelta(minutes=5)

    plan = plan_slots(ScheduleState(NOON), now=late, count=2, pace=Pace(1), zone=UTC_ZONE)

    assert plan.slots == (late, late + timedelta(seconds=1))


def test_slots_stop_at_the_planning_horizon_and_the_next_plan_goes_on_from_there() -> None:
    first = plan_slots(
        ScheduleState(NOON),
        now=NOON,
        count=100,
        pace=Pace(10),
        zone=UTC_ZONE,
        until=NOON + timedelta(seconds=1),
    )
    second = plan_slots(first.state, now=NOON, count=1, pace=Pace(10), zone=UTC_ZONE)

    assert len(first.slots) == 11  # 0.0 s to 1.0 s inclusive
    assert second.slots == (NOON + timedelta(seconds=1.1),)


def test_no_slot_falls_in_quiet_hours_that_cross_midnight() -> None:
    evening = datetime(2026, 3, 10, 20, 59, 59, tzinfo=UTC)

    plan = plan_slots(
        ScheduleState(evening), now=evening, count=2, pace=Pace(0.5), zone=UTC_ZONE, quiet_hours=NIGHT
    )

    assert plan.slots == (evening, datetime(2026, 3, 11, 8, 0, tzinfo=UTC))


def test_a_slot_in_the_small_hours_waits_for_the_morning_of_the_same_day() -> None:
    small_hours = datetime(2026, 3, 11, 3, 0, tzinfo=UTC)

    plan = plan_slots(
        ScheduleState(small_hours), now=small_hours, count=1, pace=Pace(1), zone=UTC_ZONE, quiet_hours=NIGHT
    )

    assert plan.slots == (datetime(2026, 3, 11, 8, 0, tzinfo=UTC),)


def test_quiet_hours_within_one_day_hold_slots_until_they_end() -> None:
    lunch = QuietHours.parse("13:00", "14:00")
    at_one = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)

    plan = plan_slots(
        ScheduleState(at_one), now=at_one, count=1, pace=Pace(1), zone=UTC_ZONE, quiet_hours=lunch
    )

    assert plan.slots == (datetime(2026, 3, 10, 14, 0, tzinfo=UTC),)


def test_quiet_hours_are_told_in_the_tenants_time_zone() -> None:
    # 20:30 UTC is 21:30 in Madrid in winter: quiet there, until 08:00 Madrid, 07:00 UTC.
    evening = datetime(2026, 1, 20, 20, 30, tzinfo=UTC)

    plan = plan_slots(
        ScheduleState(evening), now=evening, count=1, pace=Pace(1), zone=MADRID, quiet_hours=NIGHT
    )

    assert plan.slots == (datetime(2026, 1, 21, 7, 0, tzinfo=UTC),)


def test_quiet_hours_end_at_local_time_after_the_clocks_go_forward() -> None:
    # Madrid moves to summer time on 29 March 2026: 08:00 that morning is 06:00 UTC, not 07:00.
    night = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)

    plan = plan_slots(ScheduleState(night), now=night, count=1, pace=Pace(1), zone=MADRID, quiet_hours=NIGHT)

    assert plan.slots == (datetime(2026, 3, 29, 6, 0, tzinfo=UTC),)


def test_the_daily_cap_stops_the_day_and_the_next_local_day_starts_counting_again() -> None:
    late = datetime(2026, 3, 10, 22, 0, tzinfo=UTC)

    plan = plan_slots(ScheduleState(late), now=late, count=3, pace=Pace(1, daily_cap=2), zone=UTC_ZONE)

    assert plan.slots == (late, late + timedelta(seconds=1), datetime(2026, 3, 11, 0, 0, tzinfo=UTC))
    assert plan.state.day == date(2026, 3, 11)
    assert plan.state.sent_on_day == 1


def test_the_daily_cap_counts_what_earlier_plans_sent_that_day() -> None:
    state = ScheduleState(NOON, day=date(2026, 3, 10), sent_on_day=5)

    plan = plan_slots(state, now=NOON, count=1, pace=Pace(1, daily_cap=5), zone=MADRID, quiet_hours=NIGHT)

    # The cap is used up for the 10th in Madrid: the next slot is the 11th, after its quiet hours.
    assert plan.slots == (datetime(2026, 3, 11, 7, 0, tzinfo=UTC),)


def test_the_daily_cap_day_is_the_tenants_local_day() -> None:
    # 23:30 UTC on the 10th is already the 11th in Madrid: a new day, with its own count.
    state = ScheduleState(datetime(2026, 3, 10, 23, 30, tzinfo=UTC), day=date(2026, 3, 10), sent_on_day=5)

    plan = plan_slots(state, now=state.next_slot, count=1, pace=Pace(1, daily_cap=5), zone=MADRID)

    assert plan.slots == (state.next_slot,)
    assert plan.state.day == date(2026, 3, 11)


@pytest.mark.parametrize("rate", [0.0, 0.001, 80.5, 1000.0])
def test_a_pace_outside_what_whatsapp_allows_is_refused(rate: float) -> None:
    with pytest.raises(InvalidSchedule):
        Pace(rate)


@pytest.mark.parametrize(
    ("start", "end"), [("21:00", "21:00"), ("25:00", "08:00"), ("9", "10:00"), ("21:00+01:00", "08:00")]
)
def test_quiet_hours_that_are_not_two_different_times_of_day_are_refused(start: str, end: str) -> None:
    with pytest.raises(InvalidSchedule):
        QuietHours.parse(start, end)


def test_quiet_hours_contain_their_start_but_not_their_end() -> None:
    assert NIGHT.contains(time(21, 0))
    assert NIGHT.contains(time(7, 59))
    assert not NIGHT.contains(time(8, 0))


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "Europe", "x" * 65])
def test_an_unknown_time_zone_is_refused(name: str) -> None:
    with pytest.raises(InvalidTimeZone):
        checked_time_zone(name)


def test_an_iana_time_zone_is_taken_as_it_is() -> None:
    assert checked_time_zone("America/Sao_Paulo") == "America/Sao_Paulo"
