use super::*;
use crate::accounts::discover::AccountBook;
use crate::aws::pool::PoolSettings;
use crate::aws::sts::{AssumeRequest, AwsCredentials, Sts, StsError};
use crate::chat::{ChatError, ChatSink};
use crate::core::inbound::{ChatUser, Place, PlaceKind};
use crate::identity::static_file::StaticGroups;
use crate::identity::{Directory, Profiles, TrustedProfiles};
use crate::policy::Policy;
use crate::store::StoreError;
use crate::store::memory::MemoryStore;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Notify;

/// Records every reply; optionally blocks until released.
#[derive(Default)]
struct Recording {
    sent: Mutex<Vec<(Target, Answer)>>,
    progress: Mutex<Vec<ProgressUpdate>>,
    gate: Option<Arc<Notify>>,
}

#[async_trait]
impl ChatSink for Recording {
    async fn send(&self, target: &Target, answer: &Answer) -> Result<Option<String>, ChatError> {
        if let Some(g) = &self.gate {
            g.notified().await;
        }
        self.sent
            .lock()
            .unwrap()
            .push((target.clone(), answer.clone()));
        Ok(None)
    }
    async fn progress(&self, _: &Asked, update: ProgressUpdate) -> Result<(), ChatError> {
        self.progress.lock().unwrap().push(update);
        Ok(())
    }
}

impl Recording {
    fn texts(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|(_, a)| a.to_markdown())
            .collect()
    }
}

struct NoSts;
#[async_trait]
impl Sts for NoSts {
    async fn assume_role(&self, _: &AssumeRequest) -> Result<AwsCredentials, StsError> {
        Err(StsError::Other("no STS in these tests".into()))
    }
}

/// Answers with the question and the history it was given; waits on `gate` when set.
#[derive(Default)]
struct Echo {
    gate: Option<Arc<Notify>>,
    calls: AtomicUsize,
}

#[async_trait]
impl Responder for Echo {
    async fn answer(&self, r: AnswerRequest) -> Result<Answer, AnswerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        r.progress.say("Querying sandbox…");
        tokio::task::yield_now().await;
        if let Some(g) = &self.gate {
            g.notified().await;
        }
        let history: Vec<&str> = r.history.iter().map(|t| t.question.as_str()).collect();
        Ok(Answer::text(format!(
            "echo: {} (after: {})",
            r.question,
            history.join(" / ")
        )))
    }
}

/// A memory store whose calls sleep first (a slow shared store), and that can fail.
struct SlowStore {
    inner: MemoryStore,
    delay: Duration,
    fail: bool,
    claims_done: AtomicUsize,
}

#[async_trait]
impl ConversationStore for SlowStore {
    async fn claim_delivery(&self, d: &str, ttl: Duration) -> Result<bool, StoreError> {
        tokio::time::sleep(self.delay).await;
        self.claims_done.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            return Err(StoreError("table not found".into()));
        }
        self.inner.claim_delivery(d, ttl).await
    }
    async fn add_turn(&self, t: &ThreadKey, turn: Turn) -> Result<(), StoreError> {
        self.inner.add_turn(t, turn).await
    }
    async fn asked_in(&self, t: &ThreadKey, u: &ChatUser) -> Result<bool, StoreError> {
        self.inner.asked_in(t, u).await
    }
    async fn turns(&self, t: &ThreadKey, n: usize) -> Result<Vec<Turn>, StoreError> {
        self.inner.turns(t, n).await
    }
}

fn core_with(
    sink: Arc<Recording>,
    responder: Arc<dyn Responder>,
    store: Arc<dyn ConversationStore>,
    work: WorkSettings,
) -> Arc<Core> {
    let registry = crate::accounts::tests::sample();
    let policy = Policy::parse(
        "[[grant]]\ngroup = \"devs\"\naccounts = [\"sandbox\"]\n[channels]\ndefault = [\"*\"]\n",
        "access.toml",
        &registry,
        &[],
        false,
    )
    .unwrap();
    let groups = StaticGroups::parse("[groups]\ndevs = [\"dev@example.com\"]\n", "g").unwrap();
    let directory = Directory::new(
        HashMap::from([(
            Platform::Terminal,
            Arc::new(TrustedProfiles) as Arc<dyn Profiles>,
        )]),
        vec![Arc::new(groups)],
        Duration::from_secs(60),
    );
    let access = Arc::new(Access::new(
        directory,
        AccountBook::new(registry),
        policy,
        "#platform",
    ));
    let metrics = Metrics::new();
    Core::new(
        CoreParts {
            sinks: Sinks::default().with(Platform::Terminal, sink),
            access,
            responder,
            store,
            credentials: CredentialPool::new(
                Arc::new(NoSts),
                PoolSettings::default(),
                metrics.clone(),
            ),
            metrics,
        },
        CoreSettings {
            work,
            dedup_ttl: Duration::from_secs(3600),
            command_prefixes: HashMap::from([(Platform::Slack, "/aws".to_string())]),
        },
    )
}

fn core(sink: Arc<Recording>) -> Arc<Core> {
    core_with(
        sink,
        Arc::new(Echo::default()),
        Arc::new(MemoryStore::default()),
        WorkSettings::default(),
    )
}

fn place() -> Place {
    Place::new(Platform::Terminal, "room", PlaceKind::Channel)
}

fn question(delivery: &str, user: &str, root: &str, text: &str, addressed: bool) -> Inbound {
    Inbound {
        delivery: Some(delivery.into()),
        who: ChatUser::new(Platform::Terminal, user),
        place: place(),
        message: Some(format!("{root}.1")),
        thread: Some(ThreadKey {
            place: place(),
            root: root.into(),
        }),
        handle: None,
        what: What::Question {
            text: text.into(),
            addressed,
        },
    }
}

async fn drain(core: &Core) {
    assert!(core.workers().drain(Duration::from_secs(600)).await);
}

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
async fn someone_without_access_is_refused_and_the_responder_never_runs() {
    let sink = Arc::new(Recording::default());
    let echo = Arc::new(Echo::default());
    let c = core_with(
        sink.clone(),
        echo.clone(),
        Arc::new(MemoryStore::default()),
        WorkSettings::default(),
    );
    c.submit(question(
        "t:1",
        "stranger@example.com",
        "1",
        "list everything",
        true,
    ));
    drain(&c).await;
    assert!(sink.texts()[0].contains("You may not query any AWS account here"));
    assert_eq!(echo.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn progress_is_started_forwarded_and_cleared() {
    let sink = Arc::new(Recording::default());
    let c = core(sink.clone());
    c.submit(question(
        "t:1",
        "dev@example.com",
        "1",
        "list lambdas",
        true,
    ));
    drain(&c).await;
    let p = sink.progress.lock().unwrap().clone();
    assert_eq!(p.first(), Some(&ProgressUpdate::Started));
    assert!(
        p.contains(&ProgressUpdate::Status("Querying sandbox…".into())),
        "{p:?}"
    );
    assert_eq!(p.last(), Some(&ProgressUpdate::Done));
}

struct Failing(AnswerError);
#[async_trait]
impl Responder for Failing {
    async fn answer(&self, _: AnswerRequest) -> Result<Answer, AnswerError> {
        Err(self.0.clone())
    }
}

struct Slow;
#[async_trait]
impl Responder for Slow {
    async fn answer(&self, _: AnswerRequest) -> Result<Answer, AnswerError> {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(Answer::text("too late"))
    }
}

#[tokio::test(start_paused = true)]
async fn answer_errors_become_clear_replies_never_silence() {
    let cases: Vec<(Arc<dyn Responder>, &str)> = vec![
        (
            Arc::new(Failing(AnswerError::Unavailable(
                "Bedrock is throttling requests.".into(),
            ))),
            "Bedrock is throttling requests. Please try again in a minute.",
        ),
        (
            Arc::new(Failing(AnswerError::internal("secret detail"))),
            "Something went wrong on my side (ref ",
        ),
        (Arc::new(Slow), "I ran out of time"),
    ];
    for (responder, want) in cases {
        let sink = Arc::new(Recording::default());
        let c = core_with(
            sink.clone(),
            responder,
            Arc::new(MemoryStore::default()),
            WorkSettings::default(),
        );
        c.submit(question("t:1", "dev@example.com", "1", "q", true));
        drain(&c).await;
        let texts = sink.texts();
        assert_eq!(texts.len(), 1);
        assert!(texts[0].contains(want), "{want}: {texts:?}");
        assert!(!texts[0].contains("secret detail"));
    }
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
