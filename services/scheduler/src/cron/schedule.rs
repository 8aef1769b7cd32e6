//! A `trigger.cron` schedule read in its time zone, and which of its ticks are due.
//!
//! Pure (no clock, no I/O) so the time-zone, boundary and catch-up rules are tested with fixed
//! instants. Ticks fall on whole seconds, so instants are floored to the second before asking
//! croner: a tick is after `t` exactly when it is after `t` floored.

use std::time::Duration;

use chrono::{DateTime, TimeZone};
use chrono_tz::Tz;
use croner::Cron;
use flowork_model::Timestamp;
use flowork_model::workflow::{CompiledNode, Param};
use serde_json::Value;

/// At most this many on-time ticks are fired per node per pass (a 1 s schedule within a
/// generous grace has a handful; this only bounds pathological settings).
const MAX_ON_TIME: usize = 1000;

/// Why a node's schedule cannot be read (validation refuses these at save time, so this only
/// happens for versions saved before the check existed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("params.expression: {0}")]
    Expression(String),
    #[error("params.timezone: unknown IANA time zone {0:?}")]
    TimeZone(String),
}

/// A cron expression (optional leading seconds field) in an IANA time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    tz: Tz,
}

impl Schedule {
    /// Parses with croner's defaults, the same settings workflow validation uses.
    pub fn parse(expression: &str, timezone: &str) -> Result<Self, ScheduleError> {
        let cron = expression
            .parse::<Cron>()
            .map_err(|e| ScheduleError::Expression(e.to_string()))?;
        let tz = timezone
            .parse::<Tz>()
            .map_err(|_| ScheduleError::TimeZone(timezone.to_owned()))?;
        Ok(Self { cron, tz })
    }

    /// The schedule of a compiled `trigger.cron` node (time zone UTC when unset).
    pub fn of_node(node: &CompiledNode) -> Result<Self, ScheduleError> {
        let text = |name| match node.params.get(name) {
            Some(Param::Literal(Value::String(s))) => Some(s.as_str()),
            _ => None,
        };
        let expression = text("expression")
            .ok_or_else(|| ScheduleError::Expression("missing or not a string".into()))?;
        Self::parse(expression, text("timezone").unwrap_or("UTC"))
    }

    /// The first tick strictly after `after`, if the schedule has one.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let at = self.local(after)?;
        let next = self.cron.find_next_occurrence(&at, false).ok()?;
        Some(Timestamp(next.timestamp_millis()))
    }

    /// The last tick at or before `at`, if the schedule has one.
    pub fn latest_at_or_before(&self, at: Timestamp) -> Option<Timestamp> {
        let at = self.local(at)?;
        let prev = self.cron.find_previous_occurrence(&at, true).ok()?;
        Some(Timestamp(prev.timestamp_millis()))
    }

    /// The ticks in `(after, until]`, oldest first, at most `max` of them.
    pub fn ticks_between(&self, after: Timestamp, until: Timestamp, max: usize) -> Vec<Timestamp> {
        let mut ticks = Vec::new();
        let mut at = after;
        while ticks.len() < max {
            match self.next_after(at) {
                Some(t) if t <= until => {
                    ticks.push(t);
                    at = t;
                }
                _ => break,
            }
        }
        ticks
    }

    /// The ticks to fire at `now` for a node last checked at `after`: every tick in
    /// `(after, now]` that is on time (within `grace` of `now`) and, standing for all older ones,
    /// which were missed (workers down or stalled), only the most recent of them — a catch-up
    /// window of one, as Temporal's schedules do, so an outage never ends in a burst. A `grace` of
    /// zero therefore yields at most the latest tick (what start-up uses).
    pub fn due(&self, after: Timestamp, now: Timestamp, grace: Duration) -> Vec<Timestamp> {
        if now <= after {
            return Vec::new();
        }
        let late_end = minus(now, grace).max(after);
        let mut due = Vec::new();
        if late_end > after
            && let Some(t) = self.latest_at_or_before(late_end).filter(|t| *t > after)
        {
            due.push(t);
        }
        due.extend(self.ticks_between(late_end, now, MAX_ON_TIME));
        due
    }

    fn local(&self, at: Timestamp) -> Option<DateTime<Tz>> {
        let secs = at.millis().div_euclid(1000);
        self.tz.timestamp_opt(secs, 0).single()
    }
}

/// `t` moved back by `d` (saturating); `Timestamp` itself only moves forward.
pub(super) fn minus(t: Timestamp, d: Duration) -> Timestamp {
    let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    Timestamp(t.millis().saturating_sub(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-01-15T00:00:00Z (a Wednesday, Berlin on CET = UTC+1).
    const JAN15: i64 = 1_736_899_200_000;
    /// 2025-07-15T00:00:00Z (Berlin on CEST = UTC+2).
    const JUL15: i64 = 1_752_537_600_000;
    const H: i64 = 3_600_000;

    fn at(ms: i64) -> Timestamp {
        Timestamp(ms)
    }

    #[test]
    fn nine_in_berlin_is_eight_utc_in_winter_and_seven_in_summer() {
        let s = Schedule::parse("0 0 9 * * *", "Europe/Berlin").expect("parse");
        assert_eq!(s.next_after(at(JAN15)), Some(at(JAN15 + 8 * H)));
        assert_eq!(
            s.next_after(at(JAN15 + 8 * H)),
            Some(at(JAN15 + 32 * H)),
            "exclusive"
        );
        assert_eq!(s.next_after(at(JUL15)), Some(at(JUL15 + 7 * H)));
        assert_eq!(at(JAN15 + 8 * H).to_rfc3339(), "2025-01-15T08:00:00Z");
        let utc = Schedule::parse("0 9 * * *", "UTC").expect("five fields");
        assert_eq!(utc.next_after(at(JAN15)), Some(at(JAN15 + 9 * H)));
    }

    #[test]
    fn ticks_between_is_half_open_and_floors_to_seconds() {
        let s = Schedule::parse("* * * * * *", "UTC").expect("parse");
        let ticks = s.ticks_between(at(JAN15 + 500), at(JAN15 + 3_999), 100);
        assert_eq!(
            ticks,
            vec![at(JAN15 + 1000), at(JAN15 + 2000), at(JAN15 + 3000)]
        );
        assert_eq!(s.ticks_between(at(JAN15), at(JAN15 + 10_000), 2).len(), 2);
        assert!(s.ticks_between(at(JAN15), at(JAN15), 10).is_empty());
    }

    #[test]
    fn missed_ticks_collapse_to_the_latest_and_on_time_ones_all_fire() {
        let s = Schedule::parse("* * * * * *", "UTC").expect("parse");
        let grace = Duration::from_secs(2);
        // An hour down: the latest missed tick plus the two on time.
        let due = s.due(at(JAN15), at(JAN15 + H), grace);
        assert_eq!(
            due,
            vec![at(JAN15 + H - 2000), at(JAN15 + H - 1000), at(JAN15 + H)]
        );
        // Steady state: exactly the ticks since the last check.
        let due = s.due(at(JAN15 + 200), at(JAN15 + 1_200), grace);
        assert_eq!(due, vec![at(JAN15 + 1000)]);
        // Start-up (no grace): only the latest.
        assert_eq!(
            s.due(at(JAN15), at(JAN15 + H), Duration::ZERO),
            vec![at(JAN15 + H)]
        );
        // A daily schedule whose tick is already behind `after` has nothing due.
        let daily = Schedule::parse("0 0 9 * * *", "Europe/Berlin").expect("parse");
        assert!(
            daily
                .due(at(JAN15 + 9 * H), at(JAN15 + 20 * H), grace)
                .is_empty()
        );
        assert_eq!(
            daily.due(at(JAN15 + 7 * H), at(JAN15 + 20 * H), Duration::ZERO),
            vec![at(JAN15 + 8 * H)]
        );
    }

    #[test]
    fn bad_expressions_and_zones_name_their_field() {
        let e = Schedule::parse("61 * * * *", "UTC").expect_err("bad");
        assert!(e.to_string().starts_with("params.expression"), "{e}");
        let e = Schedule::parse("* * * * *", "Mars/Olympus").expect_err("bad");
        assert!(e.to_string().starts_with("params.timezone"), "{e}");
    }
}
