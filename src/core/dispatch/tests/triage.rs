//! Triage: de-duplication, follow-ups, shedding.

use super::*;

#[tokio::test]
async fn one_answer_per_delivery_however_often_it_arrives() {
    let sink = Arc::new(Recording::default());
    let c = core(sink.clone());
    for _ in 0..4 {
        assert_eq!(
            c.submit(question(
                "t:1",
                "dev@example.com",
                "1",
                "list lambdas",
                true
            )),
            Ack::Queued
        );
    }
    c.submit(question(
        "t:2",
        "dev@example.com",
        "2",
        "list buckets",
        true,
    ));
    drain(&c).await;
    let texts = sink.texts();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        c.metrics()
            .render()
            .contains("opsbot_deliveries_total{kind=\"duplicate\"} 3")
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_store_never_delays_the_ack_and_duplicates_still_get_one_answer() {
    let sink = Arc::new(Recording::default());
    let store = Arc::new(SlowStore {
        inner: MemoryStore::default(),
        delay: Duration::from_secs(2),
        fail: false,
        claims_done: AtomicUsize::new(0),
    });
    let c = core_with(
        sink.clone(),
        Arc::new(Echo::default()),
        store.clone(),
        WorkSettings::default(),
    );
    let q = question("t:slow", "dev@example.com", "1", "list lambdas", true);
    assert_eq!(c.submit(q.clone()), Ack::Queued);
    assert_eq!(c.submit(q), Ack::Queued);
    assert_eq!(
        store.claims_done.load(Ordering::SeqCst),
        0,
        "both acknowledged before the store answered"
    );
    drain(&c).await;
    assert_eq!(store.claims_done.load(Ordering::SeqCst), 2);
    assert_eq!(sink.texts().len(), 1);
}

#[tokio::test]
async fn a_failing_store_fails_open_on_dedup() {
    let sink = Arc::new(Recording::default());
    let store = Arc::new(SlowStore {
        inner: MemoryStore::default(),
        delay: Duration::ZERO,
        fail: true,
        claims_done: AtomicUsize::new(0),
    });
    let c = core_with(
        sink.clone(),
        Arc::new(Echo::default()),
        store,
        WorkSettings::default(),
    );
    c.submit(question(
        "t:1",
        "dev@example.com",
        "1",
        "list lambdas",
        true,
    ));
    drain(&c).await;
    assert_eq!(sink.texts().len(), 1, "answered although dedup was down");
    assert!(
        c.metrics()
            .render()
            .contains("opsbot_deliveries_total{kind=\"store_error\"} 1")
    );
}

#[tokio::test]
async fn follow_ups_need_no_mention_only_from_the_person_who_asked() {
    let sink = Arc::new(Recording::default());
    let c = core(sink.clone());
    c.submit(question("t:1", "other@example.com", "9", "chatter", false));
    drain(&c).await;
    assert!(
        sink.texts().is_empty(),
        "unaddressed and nobody asked there"
    );

    let c = core(sink.clone());
    c.submit(question(
        "t:2",
        "dev@example.com",
        "5",
        "list lambdas",
        true,
    ));
    drain(&c).await;
    let c2 = c.clone();
    c2.submit(question("t:3", "other@example.com", "5", "thanks!", false));
    c2.submit(question(
        "t:4",
        "dev@example.com",
        "5",
        "only the big ones",
        false,
    ));
    // New workers after drain: the tracker is closed but still tracks; wait for the replies.
    for _ in 0..200 {
        if sink.texts().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let texts = sink.texts();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts[1].contains("echo: only the big ones (after: list lambdas)"),
        "the follow-up got the thread's history: {}",
        texts[1]
    );
}

#[tokio::test]
async fn over_the_limit_busy_notices_are_one_per_person_and_bounded() {
    let gate = Arc::new(Notify::new());
    let sink = Arc::new(Recording {
        gate: Some(gate.clone()),
        ..Recording::default()
    });
    let work = WorkSettings {
        max_concurrent: 1,
        max_per_user: 1,
        ..WorkSettings::default()
    };
    let responder = Arc::new(Echo {
        gate: Some(Arc::new(Notify::new())),
        calls: AtomicUsize::new(0),
    });
    let c = core_with(
        sink.clone(),
        responder.clone(),
        Arc::new(MemoryStore::default()),
        work,
    );
    c.submit(question("t:0", "dev@example.com", "0", "first", true));
    while responder.calls.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    // The one slot is taken. The same person floods, then 200 different people do.
    for i in 0..10 {
        c.submit(question(
            &format!("t:a{i}"),
            "dev@example.com",
            "1",
            "again",
            true,
        ));
    }
    for i in 0..200 {
        c.submit(question(
            &format!("t:b{i}"),
            &format!("p{i}@example.com"),
            "2",
            "me too",
            true,
        ));
    }
    // Let triage finish (the notice sender is blocked on the gated sink).
    for _ in 0..100 {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let m = c.metrics().render();
    let count = |label: &str| -> u64 {
        m.lines()
            .find(|l| l.starts_with(&format!("opsbot_shed_total{{kind=\"{label}\"}}")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    assert_eq!(
        count("busy_notice_rate_limited"),
        9,
        "one notice per person per minute:\n{m}"
    );
    let queued = 201 - count("busy_notice_queue_full");
    assert!(
        queued <= crate::core::shed::NOTICE_QUEUE as u64 + 1,
        "at most the queue (plus the one being sent) waits: {queued}"
    );
    assert!(count("busy_notice_queue_full") > 0);
}

#[tokio::test(start_paused = true)]
async fn beyond_max_queued_deliveries_are_shed_with_a_metric() {
    let sink = Arc::new(Recording::default());
    let store = Arc::new(SlowStore {
        inner: MemoryStore::default(),
        delay: Duration::from_secs(60),
        fail: false,
        claims_done: AtomicUsize::new(0),
    });
    let work = WorkSettings {
        max_queued: 2,
        ..WorkSettings::default()
    };
    let c = core_with(sink, Arc::new(Echo::default()), store, work);
    let acks: Vec<Ack> = (0..4)
        .map(|i| {
            c.submit(question(
                &format!("t:{i}"),
                "dev@example.com",
                "1",
                "q",
                true,
            ))
        })
        .collect();
    assert_eq!(acks, [Ack::Queued, Ack::Queued, Ack::Shed, Ack::Shed]);
    assert!(
        c.metrics()
            .render()
            .contains("opsbot_shed_total{kind=\"triage_full\"} 2")
    );
}
