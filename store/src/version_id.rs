//! Version ids: a sortable UTC timestamp with milliseconds plus a short random
//! suffix, e.g. `20261121T213000123Z-7f3a`.
//!
//! # Order
//!
//! Ids compare as plain strings, and that order is creation order:
//! - within one process ids strictly increase: an id made while the clock still reads
//!   the millisecond of the previous id (or reads an earlier one, after a clock step
//!   back) takes the next millisecond instead, so the timestamp may run a few
//!   milliseconds ahead of the clock under a burst;
//! - ids of different milliseconds sort by time; the random suffix only orders two
//!   writers that made an id in the same millisecond, and keeps their ids distinct.
//!
//! # The older form
//!
//! Earlier builds wrote ids with whole seconds, `20261121T213000Z-7f3a`. They stay
//! valid everywhere. Compared as strings with ids of the current form, an old id sorts
//! by its second; against new ids of the very same second it sorts after them all
//! (`Z` sorts after every digit).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Hands out strictly increasing milliseconds: never less than the clock says, and
/// always past the millisecond it handed out last.
#[derive(Debug, Default)]
pub struct IdClock {
    /// The smallest millisecond the next call may return.
    floor: AtomicU64,
}

impl IdClock {
    /// A clock that has handed out nothing yet.
    pub const fn new() -> IdClock {
        IdClock {
            floor: AtomicU64::new(0),
        }
    }

    /// The millisecond (since the Unix epoch) for an id made at `now`.
    pub fn next_millis(&self, now: SystemTime) -> u64 {
        let now_ms = unix_millis(now);
        let floor = self
            .floor
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |floor| {
                Some(now_ms.max(floor).saturating_add(1))
            })
            .expect("the update always returns Some");
        now_ms.max(floor)
    }
}

/// The process-wide clock behind [`new_version_id`].
static CLOCK: IdClock = IdClock::new();

/// A new version id for `now`, greater than every id this process made before. The
/// suffix mixes the clock's nanoseconds, the process id and a counter, so two writers
/// in the same millisecond get different ids.
pub fn new_version_id(now: SystemTime) -> String {
    version_id_at(CLOCK.next_millis(now), suffix(now))
}

/// The id for millisecond `ms` with `suffix`: `YYYYMMDDTHHMMSSmmmZ-xxxx`.
pub fn version_id_at(ms: u64, suffix: u16) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms);
    let stamp = humantime::format_rfc3339_millis(t)
        .to_string()
        .replace(['-', ':', '.'], "");
    format!("{stamp}-{suffix:04x}")
}

/// The time a generated id names, for ids of either form (`...T213000123Z-7f3a` or
/// the older `...T213000Z-7f3a`); `None` for any other name.
pub fn generated_id_time(id: &str) -> Option<SystemTime> {
    let (stamp, suffix) = id.split_once('-')?;
    let hex = |s: &str| s.len() == 4 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let stamp = stamp.strip_suffix('Z')?;
    let (date, time) = stamp.split_once('T')?;
    if !hex(suffix) || date.len() != 8 || !digits(date) || !digits(time) {
        return None;
    }
    let millis = match time.len() {
        6 => "",
        9 => &time[6..],
        _ => return None,
    };
    let text = format!(
        "{}-{}-{}T{}:{}:{}{}{}Z",
        &date[..4],
        &date[4..6],
        &date[6..],
        &time[..2],
        &time[2..4],
        &time[4..6],
        if millis.is_empty() { "" } else { "." },
        millis
    );
    humantime::parse_rfc3339(&text).ok()
}

/// `YYYYMMDDTHHMMSSZ` for `t` (UTC).
pub fn compact_timestamp(t: SystemTime) -> String {
    rfc3339(t).replace(['-', ':'], "")
}

/// RFC 3339 UTC with seconds, e.g. `2026-11-21T21:30:00Z`.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

fn unix_millis(t: SystemTime) -> u64 {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// 16 bits that differ between processes and between calls.
fn suffix(now: SystemTime) -> u16 {
    unique_bits(now) as u16
}

/// 64 bits that differ between processes and between calls: the clock's
/// nanoseconds, the process id and a counter, hashed. For ids and tokens, not for
/// secrets.
pub(crate) fn unique_bits(now: SystemTime) -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut seed = [0u8; 28];
    seed[..16].copy_from_slice(&since.as_nanos().to_le_bytes());
    seed[16..20].copy_from_slice(&std::process::id().to_le_bytes());
    seed[20..].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    xxhash_rust::xxh3::xxh3_64(&seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::validate_version;

    #[test]
    fn ids_made_in_a_tight_loop_sort_in_creation_order() {
        let ids: Vec<String> = (0..1000)
            .map(|_| new_version_id(SystemTime::now()))
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids, "ids sort in another order than they were made");
        for id in &ids {
            validate_version(id).unwrap();
            assert!(generated_id_time(id).is_some(), "{id}");
        }
    }

    #[test]
    fn the_clock_only_moves_forward() {
        let clock = IdClock::new();
        let t = UNIX_EPOCH + Duration::from_millis(5_000);
        assert_eq!(clock.next_millis(t), 5_000);
        // Same millisecond, then a clock step back: the next milliseconds.
        assert_eq!(clock.next_millis(t), 5_001);
        assert_eq!(clock.next_millis(UNIX_EPOCH), 5_002);
        // The clock moved on: its time again.
        assert_eq!(clock.next_millis(t + Duration::from_secs(1)), 6_000);
        // The first id of a fresh clock is the epoch itself when the clock says so.
        assert_eq!(IdClock::new().next_millis(UNIX_EPOCH), 0);
    }

    #[test]
    fn ids_carry_milliseconds_and_roll_over_seconds() {
        let ms = 1_795_296_600_123; // 2026-11-21T21:30:00.123Z
        assert_eq!(version_id_at(ms, 0x7f3a), "20261121T213000123Z-7f3a");
        assert_eq!(version_id_at(ms + 877, 1), "20261121T213001000Z-0001");
        assert_eq!(
            generated_id_time("20261121T213000123Z-7f3a"),
            Some(UNIX_EPOCH + Duration::from_millis(ms))
        );
    }

    #[test]
    fn old_ids_still_validate_and_sort_by_their_second() {
        let old = "20261121T213000Z-7f3a";
        validate_version(old).unwrap();
        assert_eq!(
            generated_id_time(old),
            Some(UNIX_EPOCH + Duration::from_secs(1_795_296_600))
        );
        let mut ids = vec![
            "20261121T213001000Z-0000".to_string(),
            old.to_string(),
            "20261121T212959999Z-ffff".to_string(),
            "20261121T213000500Z-0000".to_string(),
        ];
        ids.sort();
        assert_eq!(
            ids,
            [
                "20261121T212959999Z-ffff",
                "20261121T213000500Z-0000",
                old,
                "20261121T213001000Z-0000",
            ]
        );
        for other in [
            "v1",
            "20261121T213000Z",
            "20261121T2130001Z-7f3a",
            "20261121T213000Z-7F3A",
        ] {
            assert_eq!(generated_id_time(other), None, "{other}");
        }
    }
}
