//! Who is asking, and who else is listening: thread memory holds only the asker's own
//! answered turns, refusals go privately outside the bot's DM, a DM the platform does not
//! confirm is a conversation between people, a replayed command is answered once, links in
//! answers are defanged.

use super::*;
use crate::core::command::Command;

fn in_place(mut inbound: Inbound, place: Place) -> Inbound {
    if let Some(t) = &mut inbound.thread {
        t.place = place.clone();
    }
    inbound.place = place;
    inbound
}

fn command(delivery: Option<&str>, user: &str, place: Place, question: &str) -> Inbound {
    Inbound {
        delivery: delivery.map(str::to_string),
        who: ChatUser::new(Platform::Terminal, user),
        place,
        message: None,
        thread: None,
        handle: Some("reply-handle".into()),
        what: What::Command(Command::Ask {
            question: vec![question.into()],
        }),
    }
}

fn dm() -> Place {
    Place::new(Platform::Terminal, "D1", PlaceKind::Dm)
}

/// The default guardrail allows nothing, DMs everything.
const DM_ONLY: &str = "[[grant]]\ngroup = \"devs\"\naccounts = [\"sandbox\"]\n[channels]\ndefault = []\ndm = [\"*\"]\n";

#[tokio::test]
async fn the_responder_sees_only_the_askers_own_turns() {
    let sink = Arc::new(Recording::default());
    let c = core(sink.clone());
    c.submit(question(
        "t:1",
        "dev@example.com",
        "9",
        "list lambdas",
        true,
    ));
    drain(&c).await;
    // Another person with access mentions the bot in the same thread: answered for them.
    c.submit(question(
        "t:2",
        "ops@example.com",
        "9",
        "also list IAM users in every account",
        true,
    ));
    drain(&c).await;
    // A stranger (no access) does the same: refused, not recorded.
    c.submit(question(
        "t:3",
        "stranger@example.com",
        "9",
        "also list IAM users in every account and post them",
        true,
    ));
    drain(&c).await;
    c.submit(question(
        "t:4",
        "dev@example.com",
        "9",
        "only the big ones",
        false,
    ));
    drain(&c).await;
    let texts = sink.texts();
    let last = texts.last().unwrap();
    assert_eq!(
        last, "echo: only the big ones (after: list lambdas)",
        "{texts:?}"
    );
    assert!(
        texts[1].contains("(after: )"),
        "the other person's own history is theirs: {texts:?}"
    );
}

#[tokio::test]
async fn refused_questions_are_not_recorded_and_give_no_follow_ups() {
    let sink = Arc::new(Recording::default());
    let store = Arc::new(MemoryStore::default());
    let c = core_with(
        sink.clone(),
        Arc::new(Echo::default()),
        store.clone(),
        WorkSettings::default(),
    );
    c.submit(question(
        "t:1",
        "stranger@example.com",
        "5",
        "list all",
        true,
    ));
    drain(&c).await;
    c.submit(question(
        "t:2",
        "stranger@example.com",
        "5",
        "and IAM users",
        false,
    ));
    drain(&c).await;
    let key = ThreadKey {
        place: place(),
        root: "5".into(),
    };
    assert!(store.turns(&key, 10).await.unwrap().is_empty());
    assert_eq!(
        sink.sent().len(),
        2,
        "notice and details, nothing for the reply"
    );
}

struct Declines;
#[async_trait]
impl Responder for Declines {
    async fn answer(&self, _: AnswerRequest) -> Result<Answer, AnswerError> {
        Err(AnswerError::Unanswerable(
            "`iam ListUsers` is not a read opsbot allows.".into(),
        ))
    }
}

#[tokio::test]
async fn a_question_the_responder_declines_is_not_recorded() {
    let sink = Arc::new(Recording::default());
    let store = Arc::new(MemoryStore::default());
    let c = core_with(
        sink.clone(),
        Arc::new(Declines),
        store.clone(),
        WorkSettings::default(),
    );
    c.submit(question(
        "t:1",
        "dev@example.com",
        "6",
        "run all iam ListUsers",
        true,
    ));
    drain(&c).await;
    let key = ThreadKey {
        place: place(),
        root: "6".into(),
    };
    assert!(store.turns(&key, 10).await.unwrap().is_empty());
    assert!(sink.texts()[0].contains("not a read opsbot allows"));
    assert!(
        matches!(sink.sent()[0].0, Target::Thread(_)),
        "said where it was asked"
    );
}

#[tokio::test]
async fn a_refusal_in_the_bots_own_dm_stays_there_in_full() {
    let sink = Arc::new(Recording::default());
    let c = core_with_policy(
        sink.clone(),
        Arc::new(Echo::default()),
        Arc::new(MemoryStore::default()),
        WorkSettings::default(),
        DM_ONLY,
    );
    c.submit(in_place(
        question("t:1", "stranger@example.com", "1", "list all", true),
        dm(),
    ));
    drain(&c).await;
    let sent = sink.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(matches!(sent[0].0, Target::Thread(_)));
    assert!(sink.texts()[0].contains("You may not query any AWS account here"));
}

#[tokio::test]
async fn a_refused_command_in_a_channel_tells_only_its_sender() {
    let sink = Arc::new(Recording::default());
    let c = core(sink.clone());
    c.submit(command(None, "stranger@example.com", place(), "list all"));
    drain(&c).await;
    let sent = sink.sent();
    assert_eq!(
        sent.len(),
        1,
        "no public notice for a command nobody else saw: {sent:?}"
    );
    assert!(matches!(sent[0].0, Target::Private { .. }));
}

#[tokio::test]
async fn a_dm_the_platform_does_not_confirm_gets_the_default_guardrail_privately() {
    for (not_dm, want_private, want) in [
        (true, true, "You may not query any AWS account here"),
        (false, false, "echo: list all"),
    ] {
        let sink = Arc::new(Recording {
            not_dm,
            ..Recording::default()
        });
        let c = core_with_policy(
            sink.clone(),
            Arc::new(Echo::default()),
            Arc::new(MemoryStore::default()),
            WorkSettings::default(),
            DM_ONLY,
        );
        c.submit(command(None, "dev@example.com", dm(), "list all"));
        drain(&c).await;
        let sent = sink.sent();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(
            matches!(sent[0].0, Target::Private { .. }),
            want_private,
            "{sent:?}"
        );
        assert!(sink.texts()[0].contains(want), "not_dm={not_dm}: {sent:?}");
    }
}

#[tokio::test]
async fn a_group_conversation_command_is_answered_privately() {
    let sink = Arc::new(Recording::default());
    let c = core(sink.clone());
    let group = Place::new(Platform::Terminal, "G1", PlaceKind::Group);
    c.submit(command(None, "dev@example.com", group, "list all"));
    drain(&c).await;
    let sent = sink.sent();
    assert!(matches!(sent[0].0, Target::Private { .. }), "{sent:?}");
    assert!(sink.texts()[0].contains("echo: list all"));
}

#[tokio::test]
async fn a_replayed_command_is_answered_once() {
    let sink = Arc::new(Recording::default());
    let c = core(sink.clone());
    for _ in 0..3 {
        assert_eq!(
            c.submit(command(
                Some("signed:1"),
                "dev@example.com",
                place(),
                "list all"
            )),
            Ack::Queued,
            "every copy is acknowledged"
        );
        drain(&c).await;
    }
    c.submit(command(
        Some("signed:2"),
        "dev@example.com",
        place(),
        "list all",
    ));
    drain(&c).await;
    assert_eq!(sink.sent().len(), 2, "{:?}", sink.texts());
}

struct Links;
#[async_trait]
impl Responder for Links {
    async fn answer(&self, _: AnswerRequest) -> Result<Answer, AnswerError> {
        Ok(Answer::text(
            "Log in again at <https://evil.example|the console>, see [docs](https://evil.example) \
             or https://evil.example/x; yours: https://console.aws.amazon.com/ec2/home",
        ))
    }
}

#[tokio::test]
async fn links_in_answers_stay_links_only_for_allowed_hosts() {
    let sink = Arc::new(Recording::default());
    let c = core_with(
        sink.clone(),
        Arc::new(Links),
        Arc::new(MemoryStore::default()),
        WorkSettings::default(),
    );
    c.submit(question("t:1", "dev@example.com", "1", "where?", true));
    drain(&c).await;
    let text = &sink.texts()[0];
    assert!(!text.contains("https://evil.example"), "{text}");
    assert!(text.contains("hxxps://evil[.]example/x"), "{text}");
    assert!(
        text.contains("https://console.aws.amazon.com/ec2/home"),
        "{text}"
    );
}
