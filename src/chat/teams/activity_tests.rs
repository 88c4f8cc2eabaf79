use super::*;
use serde_json::json;

const BOT: &str = "28:00000000-0000-0000-0000-00000000000a";

fn activity(conversation: serde_json::Value, text: &str, mention: bool) -> Activity {
    let mut v = json!({
        "type": "message",
        "id": "1700000000123",
        "serviceUrl": "https://smba.trafficmanager.net/amer/",
        "channelId": "msteams",
        "from": {"id": "29:1alice", "name": "Alice", "aadObjectId": "aad-alice"},
        "recipient": {"id": BOT, "name": "opsbot"},
        "conversation": conversation,
        "text": text,
        "channelData": {"tenant": {"id": "tenant-1"}, "team": {"id": "19:team@thread.tacv2"}, "channel": {"id": "19:chan@thread.tacv2"}},
        "someNewField": {"x": 1}
    });
    if mention {
        v["entities"] = json!([
            {"type": "mention", "mentioned": {"id": BOT, "name": "opsbot"}, "text": "<at>opsbot</at>"},
            {"type": "clientInfo", "locale": "en-US"}
        ]);
    }
    parse(serde_json::to_vec(&v).unwrap().as_slice()).unwrap()
}

fn question(i: &Inbound) -> (&str, bool) {
    match &i.what {
        What::Question { text, addressed } => (text.as_str(), *addressed),
        other => panic!("not a question: {other:?}"),
    }
}

#[test]
fn a_channel_post_mentioning_the_bot_is_a_question_in_its_own_thread() {
    let a = activity(
        json!({"id": "19:chan@thread.tacv2;messageid=1700000000123", "conversationType": "channel", "tenantId": "tenant-1"}),
        "<at>opsbot</at> list EC2   instances in production",
        true,
    );
    let i = to_inbound(&a);
    assert_eq!(question(&i), ("list EC2 instances in production", true));
    assert_eq!(i.delivery.as_deref(), Some("teams:1700000000123"));
    assert_eq!(i.who.key(), "teams:aad-alice");
    assert_eq!(i.who.team.as_deref(), Some("tenant-1"));
    assert_eq!(i.place.key(), "teams:19:chan@thread.tacv2");
    assert_eq!(i.place.kind, PlaceKind::Channel);
    assert_eq!(
        i.place.parent_key().as_deref(),
        Some("teams:team:19:team@thread.tacv2")
    );
    assert_eq!(i.thread.unwrap().root, "1700000000123");
}

#[test]
fn a_reply_in_a_channel_thread_belongs_to_the_root_post() {
    let a = activity(
        json!({"id": "19:chan@thread.tacv2;messageid=1699999999000", "conversationType": "channel"}),
        "<at>opsbot</at> and in staging?",
        true,
    );
    let i = to_inbound(&a);
    let t = i.thread.clone().unwrap();
    assert_eq!(t.root, "1699999999000");
    assert_eq!(t.key(), "teams:19:chan@thread.tacv2:1699999999000");
    assert_eq!(i.message.as_deref(), Some("1700000000123"));
}

#[test]
fn personal_and_group_chats_are_one_thread_each() {
    let dm = to_inbound(&activity(
        json!({"id": "a:1xyz", "conversationType": "personal", "tenantId": "tenant-1"}),
        "whoami",
        false,
    ));
    assert_eq!(dm.place.kind, PlaceKind::Dm);
    assert_eq!(dm.place.parent, None);
    assert_eq!(dm.thread.unwrap().root, "a:1xyz");
    assert_eq!(dm.what, What::Command(Command::Whoami));
    let group = to_inbound(&activity(
        json!({"id": "19:grp@thread.v2", "conversationType": "groupChat"}),
        "<at>opsbot</at> show S3 buckets",
        true,
    ));
    assert_eq!(group.place.kind, PlaceKind::Group);
    assert_eq!(question(&group), ("show S3 buckets", true));
    assert_eq!(group.thread.unwrap().root, "19:grp@thread.v2");
}

#[test]
fn messages_not_for_the_bot_are_nothing() {
    let conv = json!({"id": "19:chan@thread.tacv2;messageid=1", "conversationType": "channel"});
    let no_mention = to_inbound(&activity(conv.clone(), "hello all", false));
    assert!(matches!(no_mention.what, What::Nothing(_)));
    let mut own = activity(conv.clone(), "<at>opsbot</at> hi", true);
    own.from = own.recipient.clone();
    assert!(matches!(to_inbound(&own).what, What::Nothing(_)));
    let mut update = activity(conv.clone(), "", false);
    update.kind = "conversationUpdate".into();
    assert!(matches!(to_inbound(&update).what, What::Nothing(_)));
    let mut no_aad = activity(conv, "<at>opsbot</at> hi", true);
    no_aad.from.aad_object_id = None;
    assert!(matches!(to_inbound(&no_aad).what, What::Nothing(_)));
}

#[test]
fn command_words_go_through_the_same_parser_as_slash_commands() {
    assert_eq!(
        what("accounts prod"),
        What::Command(Command::Accounts {
            name: vec!["prod".into()]
        })
    );
    assert_eq!(
        what("ask what is running in prod?"),
        What::Command(Command::Ask {
            question: vec!["what is running in prod?".into()]
        })
    );
    assert!(matches!(
        what("run prod ec2 DescribeInstances"),
        What::Command(Command::Run { .. })
    ));
    assert!(matches!(
        what("run prod"),
        What::Command(Command::Unclear(_))
    ));
    assert_eq!(
        what("inventory all"),
        What::Command(Command::Inventory {
            accounts: vec!["all".into()]
        })
    );
    assert_eq!(what(""), What::Command(Command::Help));
    assert_eq!(what("help"), What::Command(Command::Help));
    assert!(matches!(what("running instances?"), What::Question { .. }));
}

#[test]
fn malformed_bodies_are_errors_not_panics() {
    assert!(parse(b"not json").is_err());
    assert!(parse(br#"{"type":"message"}"#).is_err());
    assert!(
        parse(br#"{"type":"message","serviceUrl":"https://x/","channelId":"msteams"}"#).is_err()
    );
    assert!(parse(br#"[1,2]"#).is_err());
    let ok = parse(br#"{"type":"message","serviceUrl":"https://x/","channelId":"msteams","conversation":{"id":"a:1"}}"#).unwrap();
    assert_eq!(ok.place_kind(), PlaceKind::Dm);
    assert_eq!(
        split_thread("19:c@thread.tacv2;messageid="),
        ("19:c@thread.tacv2", None)
    );
}

#[test]
fn only_msteams_activities_of_our_tenant_pass() {
    let ours = "7E7E7E7E-aaaa-bbbb-cccc-dddddddddddd";
    let conv = |tenant: Option<&str>| {
        let mut c = json!({"id": "a:1xyz", "conversationType": "personal"});
        if let Some(t) = tenant {
            c["tenantId"] = json!(t);
        }
        c
    };
    let with =
        |conversation: serde_json::Value, channel_data_tenant: Option<&str>, channel: &str| {
            let mut a = activity(conversation, "whoami", false);
            a.channel_id = channel.into();
            a.channel_data.tenant = channel_data_tenant.map(|t| Id { id: t.into() });
            a
        };
    let t = "7e7e7e7e-aaaa-bbbb-cccc-dddddddddddd";
    let cases: &[(Activity, Result<(), Foreign>)] = &[
        (with(conv(Some(t)), Some(t), "msteams"), Ok(())),
        (with(conv(None), Some(t), "msteams"), Ok(())),
        (with(conv(Some(t)), None, "msteams"), Ok(())),
        (
            with(conv(Some(t)), Some(t), "webchat"),
            Err(Foreign::Channel("webchat".into())),
        ),
        (
            with(conv(Some("other-tenant")), Some("other-tenant"), "msteams"),
            Err(Foreign::Tenant("other-tenant".into())),
        ),
        (
            with(conv(Some(t)), Some("other-tenant"), "msteams"),
            Err(Foreign::Tenant("other-tenant".into())),
        ),
        (with(conv(None), None, "msteams"), Err(Foreign::NoTenant)),
    ];
    for (a, want) in cases {
        assert_eq!(&check_origin(a, ours), want, "{a:?}");
    }
}
