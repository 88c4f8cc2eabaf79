//! Teams and Slack side by side on one bot with the agent (fake Bedrock, signed MCP fake over
//! moto): the same question gives the same answer on both; a Teams channel answer lands in the
//! thread, a follow-up there keeps context; a scheduled inventory lands once in a Teams channel.

use crate::agent::{AgentApp, agent_app_with, five_questions, scripted};
use crate::fake_bedrock;
use crate::fake_teams::FakeTeams;
use crate::helpers::{Tap, envelope, event_id, mention};
use crate::peers::FakeMcp;
use crate::teams::teams_toml;
use crate::teams_wire::{self as wire, ALICE, APP_ID, CHANNEL_ID, Place};
use chrono::{TimeZone, Utc};
use opsbot::core::inbound::Platform;
use opsbot::inventory::schedule::Clock;
use opsbot::inventory::{Fired, Scheduler};
use serde_json::Value;
use std::sync::{Arc, Mutex};

struct Both {
    a: AgentApp,
    teams: Arc<Tap>,
    fake: FakeTeams,
}

async fn both(mcp: &FakeMcp, script: fake_bedrock::Script, extra: &str) -> Both {
    let fake = FakeTeams::start().await;
    fake.seed_member(wire::member(&ALICE, false));
    let slot: Arc<Mutex<Option<Arc<Tap>>>> = Arc::default();
    let s = slot.clone();
    let a = agent_app_with(
        mcp,
        script,
        &format!("{}{extra}", teams_toml(&fake)),
        move |b| {
            b.wrap_sinks(move |platform, inner| {
                if platform != Platform::Teams {
                    return inner;
                }
                let r = Tap::wrapping(inner);
                *s.lock().unwrap() = Some(r.clone());
                r
            })
        },
    )
    .await;
    let teams = slot.lock().unwrap().clone().expect("a Teams sink");
    Both { a, teams, fake }
}

impl Both {
    async fn say(&self, place: &Place, text: &str) -> Value {
        let activity = wire::message(place, &ALICE, text, &self.fake.service_url());
        let claims = wire::claims(APP_ID, &self.fake.service_url());
        let status = self
            .a
            .app
            .http
            .post(self.a.app.url("/api/messages"))
            .bearer_auth(wire::sign(&claims, "key1"))
            .json(&activity)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
        activity
    }
}

#[tokio::test]
async fn teams_gets_the_same_answer_as_slack_in_its_thread_and_follow_ups_keep_context() {
    let mcp = FakeMcp::start();
    mcp.seed().await;
    let b = both(&mcp, scripted(five_questions), "").await;
    let questions = [
        "list all EC2 instances in the production account",
        "show me S3 buckets across all accounts",
        "what Lambda functions exist in staging?",
        "describe EKS clusters in account 222222222222",
        "how many RDS instances are running in each account?",
    ];
    let mut posts = Vec::new();
    for (i, q) in questions.iter().enumerate() {
        let ts = format!("1700007000.{:06}", i + 1);
        b.a.app
            .event(&envelope(&event_id(), mention("U1", "C0OPS", &ts, q)))
            .await;
        let slack = b.a.tap.answer(i + 1).await;
        posts.push(b.say(&Place::ChannelPost, q).await);
        let teams = b.teams.answer(i + 1).await;
        assert_eq!(
            teams.blocks, slack.blocks,
            "same paragraphs and tables: {q}"
        );
        assert_eq!(teams.notes, slack.notes, "{q}");
        assert_eq!(teams.attachments, slack.attachments, "{q}");
    }

    // In the thread of the post, as an Adaptive Card with a Table, after an "I'm on it"
    // message that was then deleted.
    let root = posts[0]["id"].as_str().unwrap().to_string();
    let thread = format!("{CHANNEL_ID};messageid={root}");
    let in_thread: Vec<_> = b
        .fake
        .ok_calls("send")
        .into_iter()
        .filter(|c| c.conversation.as_deref() == Some(thread.as_str()))
        .collect();
    let card = in_thread
        .iter()
        .find(|c| c.body.to_string().contains("\"Table\""))
        .expect("the answer card with a table");
    assert_eq!(
        card.body["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let deleted = b.fake.wait_for("delete", questions.len()).await;
    assert!(
        deleted
            .iter()
            .any(|c| c.conversation.as_deref() == Some(thread.as_str()))
    );

    // A follow-up in the thread: the model sees the earlier question; the answer stays there.
    let before = b.fake.ok_calls("send").len();
    b.say(
        &Place::ChannelReply { root: root.clone() },
        "and the EC2 ones that are stopped?",
    )
    .await;
    b.teams.answer(questions.len() + 1).await;
    let reqs = b.a.bedrock.requests();
    let first_turn = reqs
        .iter()
        .rfind(|r| fake_bedrock::tool_results(&r.body).is_none())
        .unwrap();
    let msgs = first_turn.body["messages"].as_array().unwrap();
    assert_eq!(msgs[0]["content"][0]["text"], questions[0]);
    let sent = b.fake.ok_calls("send");
    assert!(
        sent[before..]
            .iter()
            .all(|c| c.conversation.as_deref() == Some(thread.as_str())),
        "the follow-up's answer stays in the thread"
    );
}

#[tokio::test]
async fn a_scheduled_inventory_lands_once_in_a_teams_channel() {
    let mcp = FakeMcp::start();
    mcp.seed().await;
    let db = std::env::temp_dir().join(format!("opsbot-it-{}-teams.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let extra = format!(
        "[inventory]\ndatabase = \"{}\"\n[[schedule]]\nname = \"weekly\"\ncron = \"0 9 * * MON\"\n\
         timezone = \"Europe/Berlin\"\npost_to = \"teams:{CHANNEL_ID}\"\n",
        db.display()
    );
    let script: fake_bedrock::Script = Arc::new(|_| panic!("inventory never calls the model"));
    let b = both(&mcp, script, &extra).await;
    // The bot is added to the team: Teams tells it the connector for the tenant.
    let update = wire::conversation_update(&ALICE, &b.fake.service_url());
    let status =
        b.a.app
            .http
            .post(b.a.app.url("/api/messages"))
            .bearer_auth(wire::sign(
                &wire::claims(APP_ID, &b.fake.service_url()),
                "key1",
            ))
            .json(&update)
            .send()
            .await
            .unwrap()
            .status();
    assert_eq!(status, 200);
    let monday = Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0).unwrap();
    let schedule = b.a.app.inventory().schedules()[0].clone();
    let mut fired = Fired::Held;
    for _ in 0..50 {
        // The reference is stored in the background; give it a moment on a slow machine.
        let s = Scheduler::new(
            b.a.app.inventory().clone(),
            b.a.app.core().clone(),
            Clock::starting_at(monday),
            "t1".into(),
        );
        fired = s.fire(&schedule, monday).await;
        if matches!(fired, Fired::Posted(_)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let Fired::Posted(Some(post)) = fired else {
        panic!("not posted: {fired:?}");
    };
    let created = b.fake.ok_calls("create");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].body["channelData"]["channel"]["id"], CHANNEL_ID);
    assert_eq!(created[0].body["isGroup"], true);
    // The CSV follows in the post's thread.
    let thread = format!("{CHANNEL_ID};messageid={post}");
    let sent = b.fake.ok_calls("send");
    assert!(
        sent.iter()
            .any(|c| c.conversation.as_deref() == Some(thread.as_str())
                && c.body.to_string().contains(".csv")),
        "{sent:#?}"
    );
    // Exactly once: another replica (or a restart) firing the same run posts nothing.
    let again = Scheduler::new(
        b.a.app.inventory().clone(),
        b.a.app.core().clone(),
        Clock::starting_at(monday),
        "t2".into(),
    )
    .fire(&schedule, monday)
    .await;
    assert!(matches!(again, Fired::AlreadyPosted), "{again:?}");
    assert_eq!(b.fake.ok_calls("create").len(), 1);
    let _ = std::fs::remove_file(&db);
}
