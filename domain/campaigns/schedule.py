"""When a campaign's messages may leave: one slot per message at the campaign's pace, none inside the
quiet hours of the tenant's time zone, and at most the daily cap per sender per calendar day there.

``plan_slots`` is pure: given where the schedule stands (the next free slot, the day it counts and how
many it counted that day), it says the moments of the next messages and where the schedule stands after
them. The runner stores that state on the campaign row and moves it forward with a conditional update,
so any number of workers share one schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import DomainError

MIN_MESSAGES_PER_SECOND = 0.01
MAX_MESSAGES_PER_SECOND = 80.0
MAX_DAILY_CAP = 10_000_000


class InvalidSchedule(DomainError):
    pass


class InvalidTimeZone(DomainError):
    pass


def checked_time_zone(name: str) -> str:
    """``name`` if it is an IANA time zone this system knows ("Europe/Madrid"); InvalidTimeZone else."""
    if not name or len(name) > 64 or name.startswith("/") or ".." in name:
        raise InvalidTimeZone("a time zone is an IANA name such as 'Europe/Madrid' or 'UTC'")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        raise InvalidTimeZone(f"{name!r} is not a known IANA time zone (such as 'Europe/Madrid')") from error
    return name


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily stretch of local time in which nothing is sent: from ``start`` to ``end``, across midnight
    when ``end`` comes before ``start`` (21:00-08:00)."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise InvalidSchedule("quiet hours start and end at different times")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise InvalidSchedule("quiet hours are local times, without a zone")

    @classmethod
    def parse(cls, start: str, end: str) -> QuietHours:
        return cls(_clock_time(start, "quiet_hours.start"), _clock_time(end, "quiet_hours.end"))

    def contains(self, local: time) -> bool:
        local = local.replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def end_after(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """The first moment at or after ``moment`` outside the quiet hours (``moment`` itself if it is)."""
        local = moment.astimezone(zone)
        if not self.contains(local.time()):
            return moment
        day = local.date()
        if self.start > self.end and local.time() >= self.start:
            day += timedelta(days=1)  # quiet since this evening: it ends tomorrow morning
        return _local_moment(day, self.end, zone)

    def label(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def _clock_time(text: str, field: str) -> time:
    try:
        parsed = time.fromisoformat(text)
    except ValueError as error:
        raise InvalidSchedule(f"{field}: a time of day as HH:MM (such as '21:00')") from error
    if len(text) != 5 or parsed.tzinfo is not None:
        raise InvalidSchedule(f"{field}: a time of day as HH:MM (such as '21:00')")
    return parsed


def _local_moment(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """``clock`` on ``day`` in ``zone``, in UTC; a time a daylight-saving jump skips is taken as the
    moment after the jump (zoneinfo reads it with the offset before)."""
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Pace:
    """How fast one campaign's sender sends: ``messages_per_second``, and at most ``daily_cap`` messages a
    calendar day of the tenant's zone (WhatsApp's messaging tiers); None: no cap."""

    messages_per_second: float
    daily_cap: int | None = None

    def __post_init__(self) -> None:
        if not MIN_MESSAGES_PER_SECOND <= self.messages_per_second <= MAX_MESSAGES_PER_SECOND:
            raise InvalidSchedule(
                f"messages_per_second is between {MIN_MESSAGES_PER_SECOND} and {MAX_MESSAGES_PER_SECOND}"
            )
        if self.daily_cap is not None and not 1 <= self.daily_cap <= MAX_DAILY_CAP:
            raise InvalidSchedule(f"daily_cap is between 1 and {MAX_DAILY_CAP}, or none")

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=1 / self.messages_per_second)


@dataclass(frozen=True, slots=True)
class ScheduleState:
    """Where a campaign's schedule stands: its next free slot, and the local day it counts sends for."""

    next_slot: datetime
    day: date | None = None
    sent_on_day: int = 0


@dataclass(frozen=True, slots=True)
class SlotPlan:
    slots: tuple[datetime, ...]
    state: ScheduleState


def plan_slots(
    state: ScheduleState,
    *,
    now: datetime,
    count: int,
    pace: Pace,
    zone: ZoneInfo,
    quiet_hours: QuietHours | None = None,
    until: datetime | None = None,
) -> SlotPlan:
    """Up to ``count`` slots from ``state`` on (never before ``now``: a schedule that fell behind does not
    make up for lost time in a burst), each at least one interval after the one before, none in the
    quiet hours, and none on a day whose cap is used up. ``until``: no slot after it (the runner plans
    only a short stretch ahead). The state returned is where the next plan starts."""
    moment = max(state.next_slot, now)
    day, sent_on_day = state.day, state.sent_on_day
    slots: list[datetime] = []
    while len(slots) < count:
        moment = _next_open(moment, zone, quiet_hours)
        local_day = moment.astimezone(zone).date()
        if local_day != day:
            day, sent_on_day = local_day, 0
        if pace.daily_cap is not None and sent_on_day >= pace.daily_cap:
            moment = _local_moment(local_day + timedelta(days=1), time(0), zone)  # the cap is for today
            continue
        if until is not None and moment > until:
            break
        slots.append(moment)
        sent_on_day += 1
        moment += pace.interval
    return SlotPlan(tuple(slots), ScheduleState(moment, day, sent_on_day))


def _next_open(moment: datetime, zone: ZoneInfo, quiet_hours: QuietHours | None) -> datetime:
    if quiet_hours is None:
        return moment
    return quiet_hours.end_after(moment, zone)
