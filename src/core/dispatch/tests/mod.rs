use super::*;

mod answers;
mod listening;
mod triage;
use crate::accounts::discover::AccountBook;
use crate::aws::pool::PoolSettings;
use crate::aws::sts::{AssumeRequest, AwsCredentials, Sts, StsError};
use crate::chat::{Asked, ChatError, ChatSink, ProgressUpdate};
use crate::core::inbound::ThreadKey;
use crate::core::inbound::{ChatUser, Place, PlaceKind};
use crate::core::respond::{AnswerError, AnswerRequest};
use crate::identity::static_file::StaticGroups;
use crate::identity::{Directory, Profiles, TrustedProfiles};
use crate::policy::Policy;
use crate::store::StoreError;
use crate::store::Turn;
use crate::store::memory::MemoryStore;
use crate::work::WorkSettings;
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
    /// Says a claimed direct message is not the bot's own (a DM between people).
    not_dm: bool,
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
    async fn confirm_place(&self, inbound: &Inbound) -> Place {
        let mut place = inbound.place.clone();
        if self.not_dm {
            place.kind = PlaceKind::Group;
        }
        place
    }
}

impl Recording {
    fn sent(&self) -> Vec<(Target, Answer)> {
        self.sent.lock().unwrap().clone()
    }

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

/// The test policy: `devs` may query sandbox; every conversation allows everything.
const POLICY: &str =
    "[[grant]]\ngroup = \"devs\"\naccounts = [\"sandbox\"]\n[channels]\ndefault = [\"*\"]\n";

fn core_with(
    sink: Arc<Recording>,
    responder: Arc<dyn Responder>,
    store: Arc<dyn ConversationStore>,
    work: WorkSettings,
) -> Arc<Core> {
    core_with_policy(sink, responder, store, work, POLICY)
}

fn core_with_policy(
    sink: Arc<Recording>,
    responder: Arc<dyn Responder>,
    store: Arc<dyn ConversationStore>,
    work: WorkSettings,
    policy: &str,
) -> Arc<Core> {
    let registry = crate::accounts::tests::sample();
    let policy = Policy::parse(policy, "access.toml", &registry, &[], false).unwrap();
    let groups = StaticGroups::parse(
        "[groups]\ndevs = [\"dev@example.com\", \"ops@example.com\"]\n",
        "g",
    )
    .unwrap();
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
