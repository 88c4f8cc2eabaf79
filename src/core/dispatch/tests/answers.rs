//! Answers: refusals, progress, responder errors.

use super::*;

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
    // Refused in a shared place: a notice in the thread, the details privately (the change
    // of behaviour this test was adapted for).
    let sent = sink.sent();
    assert!(matches!(sent[0].0, Target::Thread(_)), "{sent:?}");
    assert!(matches!(sent[1].0, Target::Private { .. }), "{sent:?}");
    assert!(sink.texts()[1].contains("You may not query any AWS account here"));
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
