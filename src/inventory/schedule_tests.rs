use super::*;
use chrono::TimeZone;

fn schedule(cron: &str, tz: &str) -> Schedule {
    Schedule {
        name: "weekly".into(),
        pattern: cron.into(),
        cron: parse_cron(cron).unwrap(),
        timezone: Tz::from_str(tz).unwrap(),
        post_to: Place::new(Platform::Slack, "C1", PlaceKind::Channel),
        accounts: vec!["all".into()],
        regions: vec![],
        kinds: vec![],
    }
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

#[test]
fn monday_nine_in_berlin_across_both_dst_changes() {
    let s = schedule("0 9 * * MON", "Europe/Berlin");
    // Winter: 09:00 CET is 08:00 UTC.
    assert_eq!(
        s.next_after(utc(2026, 3, 17, 12, 0)),
        Some(utc(2026, 3, 23, 8, 0))
    );
    // DST starts Sunday 29 March 2026: Monday 30 March 09:00 CEST is 07:00 UTC.
    assert_eq!(
        s.next_after(utc(2026, 3, 24, 0, 0)),
        Some(utc(2026, 3, 30, 7, 0))
    );
    // DST ends Sunday 25 October 2026: Monday 26 October 09:00 CET is 08:00 UTC again.
    assert_eq!(
        s.next_after(utc(2026, 10, 20, 0, 0)),
        Some(utc(2026, 10, 26, 8, 0))
    );
    assert_eq!(
        s.last_at_or_before(utc(2026, 10, 26, 8, 0)),
        Some(utc(2026, 10, 26, 8, 0))
    );
    assert_eq!(
        s.last_at_or_before(utc(2026, 10, 26, 7, 59)),
        Some(utc(2026, 10, 19, 7, 0))
    );
}

#[test]
fn a_local_time_skipped_or_repeated_by_dst_runs_once() {
    // 02:30 every day in New York: skipped on 8 March 2026 (02:00 → 03:00), twice on 1 November.
    let s = schedule("30 2 * * *", "America/New_York");
    let mut t = utc(2026, 3, 7, 0, 0);
    let mut runs = Vec::new();
    for _ in 0..3 {
        t = s.next_after(t).unwrap();
        runs.push(t);
    }
    assert_eq!(runs[0], utc(2026, 3, 7, 7, 30), "EST: UTC-5");
    assert!(
        runs[1] > utc(2026, 3, 8, 6, 0) && runs[1] < utc(2026, 3, 9, 0, 0),
        "the skipped day still has one run: {runs:?}"
    );
    assert_eq!(runs[2], utc(2026, 3, 9, 6, 30), "EDT: UTC-4");
    let mut t = utc(2026, 10, 31, 12, 0);
    let mut count = 0;
    while t < utc(2026, 11, 2, 0, 0) {
        t = s.next_after(t).unwrap();
        if t < utc(2026, 11, 2, 0, 0) && t > utc(2026, 11, 1, 0, 0) {
            count += 1;
        }
    }
    assert_eq!(count, 1, "the repeated hour runs once");
}

#[test]
fn bad_patterns_and_zones_are_named() {
    assert!(parse_cron("0 9 * *").unwrap_err().contains("5 fields"));
    assert!(parse_cron("61 9 * * *").is_err());
    assert!(parse_cron("@weekly").is_ok());
    assert!(place("general").is_err());
    assert_eq!(place("slack:C0OPS").unwrap().key(), "slack:C0OPS");
}

#[tokio::test(start_paused = true)]
async fn the_clock_follows_tokio_time() {
    let c = Clock::starting_at(utc(2026, 1, 1, 0, 0));
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_eq!(c.now(), utc(2026, 1, 1, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn sleeping_until_the_next_run_lands_on_it_across_a_dst_change() {
    // Saturday before DST ends in Berlin; the next Monday 09:00 is CET again.
    let s = schedule("0 9 * * MON", "Europe/Berlin");
    let clock = Clock::starting_at(utc(2026, 10, 24, 12, 0));
    for want in [utc(2026, 10, 26, 8, 0), utc(2026, 11, 2, 8, 0)] {
        let next = s.next_after(clock.now()).unwrap();
        assert_eq!(next, want);
        tokio::time::sleep((next - clock.now()).to_std().unwrap()).await;
        assert_eq!(clock.now(), want, "woke exactly at the run");
    }
}
