use super::*;
use crate::accounts::tests::sample;
use crate::identity::Standing;

const POLICY: &str = r##"
[[grant]]
group = "platform-admins"
accounts = ["*"]

[[grant]]
group = "data-engineers"
accounts = ["tag:team=data", "environment:staging"]
regions = ["us-east-1"]

[[grant]]
group = "Developers"
accounts = ["sandbox", "stage"]

[[grant]]
group = "eu-only"
accounts = ["prod"]
regions = ["eu-west-1"]

[[grant]]
group = "ap-only"
accounts = ["prod"]
regions = ["ap-south-1"]

[channels]
default = ["environment:dev", "environment:staging"]

[[grant]]
group = "contractors"
accounts = ["sandbox"]
guests = true

[[grant]]
group = "contractors"
accounts = ["staging"]

[[channel]]
id = "C0GENERAL"
name = "#general"
accounts = ["environment:dev"]

[[channel]]
id = "slack:C0PLATFORM"
name = "#platform"
accounts = ["*"]

[[channel]]
id = "C0UNNAMED"
accounts = ["sandbox"]

[[channel]]
id = "teams:team:19:opsteam@thread.tacv2"
name = "the Ops team"
accounts = ["*"]

[[channel]]
id = "teams:19:opsgeneral@thread.tacv2"
name = "Ops > General"
accounts = ["environment:dev"]
"##;

fn policy() -> Policy {
    Policy::parse(POLICY, "access.toml", &sample(), &[], false).unwrap()
}

fn names(d: &Decision) -> Vec<&str> {
    d.allowed
        .iter()
        .map(|a| a.label.split(' ').next().unwrap())
        .collect()
}

fn at(channel: &str) -> Place {
    let kind = if channel.starts_with('D') {
        PlaceKind::Dm
    } else {
        PlaceKind::Channel
    };
    Place::new(Platform::Slack, channel, kind)
}

#[test]
fn decisions_table() {
    let p = policy();
    let r = sample();
    let cases: &[(&[&str], &str, &[&str])] = &[
        (
            &["platform-admins"],
            "C0PLATFORM",
            &["data-staging", "production", "sandbox", "staging"],
        ),
        (&["platform-admins"], "C0GENERAL", &["sandbox"]),
        (
            &["platform-admins"],
            "C0OTHER",
            &["data-staging", "sandbox", "staging"],
        ),
        (
            &["platform-admins"],
            "D0DM",
            &["data-staging", "production", "sandbox", "staging"],
        ),
        (
            &["data-engineers"],
            "C0PLATFORM",
            &["data-staging", "staging"],
        ),
        (&["developers"], "C0PLATFORM", &["sandbox", "staging"]),
        (&["DEVELOPERS", "data-engineers"], "C0GENERAL", &["sandbox"]),
        (&["unknown-group"], "C0PLATFORM", &[]),
        (&[], "D0DM", &[]),
        (&["eu-only"], "C0PLATFORM", &["production"]),
        (&["ap-only"], "C0PLATFORM", &[]),
    ];
    for (groups, channel, want) in cases {
        let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        let d = decide(&p, &r, &groups, false, &at(channel));
        assert_eq!(names(&d), *want, "{groups:?} in {channel}");
    }
}

#[test]
fn reasons_say_which_group_and_which_guardrail() {
    let d = decide(
        &policy(),
        &sample(),
        &["developers".into(), "data-engineers".into()],
        false,
        &at("C0GENERAL"),
    );
    let sandbox = &d.allowed[0];
    assert_eq!(
        sandbox.granted_by,
        ["static:developers"],
        "a bare grant name means the static file's group"
    );
    assert!(
        d.guardrail.contains("#general allows environment:dev"),
        "{}",
        d.guardrail
    );
    let removed: Vec<&str> = d.removed.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        removed,
        ["data-staging (333333333333)", "staging (222222222222)"]
    );
    assert!(d.removed[0].1.contains("#general"));
}

#[test]
fn region_limits_intersect_and_union() {
    let p = policy();
    let d = decide(&p, &sample(), &["eu-only".into()], false, &at("C0PLATFORM"));
    assert_eq!(d.allowed[0].regions, ["eu-west-1"]);
    let d = decide(
        &p,
        &sample(),
        &["eu-only".into(), "platform-admins".into()],
        false,
        &at("C0PLATFORM"),
    );
    let prod = d.allowed.iter().find(|a| a.id == "111111111111").unwrap();
    assert_eq!(prod.regions, ["us-east-1", "eu-west-1"]);
    assert_eq!(
        prod.granted_by,
        ["static:platform-admins", "static:eu-only"]
    );
}

#[test]
fn empty_policy_denies_everything() {
    let p = Policy::parse("", "access.toml", &sample(), &[], false).unwrap();
    for place in [at("C1"), at("D1")] {
        assert!(
            decide(&p, &sample(), &["platform-admins".into()], false, &place)
                .allowed
                .is_empty()
        );
    }
}

#[test]
fn selector_parsing() {
    assert_eq!(Selector::parse("*"), Ok(Selector::All));
    assert_eq!(
        Selector::parse("environment:Prod"),
        Ok(Selector::Environment("prod".into()))
    );
    assert_eq!(
        Selector::parse("tag:team=data"),
        Ok(Selector::Tag("team".into(), "data".into()))
    );
    assert!(Selector::parse("tag:team").is_err());
    assert!(Selector::parse("env:prod").is_err());
    assert!(Selector::parse("").is_err());
}

#[test]
fn policy_problems_are_all_listed() {
    let bad = r#"
[[grant]]
group = ""
accounts = ["nope", "tag:x"]
regions = ["moon-1"]

[[channel]]
id = "general"
accounts = ["env:dev"]
"#;
    let e = Policy::parse(bad, "access.toml", &sample(), &[], false).unwrap_err();
    let all: String = e
        .iter()
        .map(|p| format!("{}: {}\n", p.key, p.message))
        .collect();
    for needle in [
        "grant[0].group",
        "\"nope\"",
        "tag:KEY=VALUE",
        "moon-1",
        "not a channel id",
        "env:dev",
    ] {
        assert!(all.contains(needle), "missing {needle}:\n{all}");
    }
    assert!(
        Policy::parse(
            "[[grant]]\ngroup = \"g\"\naccounts = [\"nope\"]\n",
            "a",
            &sample(),
            &[],
            true
        )
        .is_ok(),
        "lenient with discovery"
    );
    assert!(
        Policy::parse(
            "[[grant]]\ngroup = \"g\"\naccounts = [\"*\"]\ncolor = 1\n",
            "a",
            &sample(),
            &[],
            false
        )
        .is_err()
    );
}

#[test]
fn guests_get_only_grants_that_allow_guests_and_are_told_why() {
    let p = policy();
    let groups = vec!["contractors".to_string()];
    let member = decide(&p, &sample(), &groups, false, &at("C0PLATFORM"));
    assert_eq!(names(&member), ["sandbox", "staging"]);
    let guest = decide(&p, &sample(), &groups, true, &at("C0PLATFORM"));
    assert_eq!(names(&guest), ["sandbox"]);
    // A guest is told how many accounts were withheld and why, never which.
    assert!(guest.removed.is_empty(), "{:?}", guest.removed);
    assert_eq!(guest.withheld.standing, 1);
    let admin_guest = decide(
        &p,
        &sample(),
        &["platform-admins".into()],
        true,
        &at("D0DM"),
    );
    assert!(
        admin_guest.allowed.is_empty(),
        "a guest in an admin group gets nothing by default"
    );
}

#[test]
fn channels_are_named_with_their_platform_and_bare_slack_ids_still_work() {
    let p = policy();
    assert!(
        p.channels.contains_key("slack:C0GENERAL"),
        "bare id means Slack"
    );
    assert!(p.channels.contains_key("slack:C0PLATFORM"));
    let teams = Place::new(Platform::Teams, "C0PLATFORM", PlaceKind::Channel);
    let d = decide(&p, &sample(), &["platform-admins".into()], false, &teams);
    assert!(
        d.guardrail.starts_with("channels without their own rule"),
        "a Teams conversation with the same id is another place: {}",
        d.guardrail
    );
    let unnamed = decide(
        &p,
        &sample(),
        &["platform-admins".into()],
        false,
        &at("C0UNNAMED"),
    );
    assert!(
        unnamed.guardrail.starts_with("this channel allows"),
        "{}",
        unnamed.guardrail
    );
    for (id, ok) in [
        ("C0123ABCD", true),
        ("slack:G0123ABCD", true),
        ("teams:19:abc@thread.tacv2", true),
        ("general", false),
        ("slack:general", false),
        ("irc:#ops", false),
        ("teams:", false),
    ] {
        assert_eq!(channel_key(id).is_ok(), ok, "{id}: {:?}", channel_key(id));
    }
}

#[test]
fn teams_channel_rule_beats_its_team_rule_and_other_teams_get_the_default() {
    let p = policy();
    let r = sample();
    let admins = vec!["platform-admins".to_string()];
    let in_team = |channel: &str, team: &str| {
        let mut place = Place::new(Platform::Teams, channel, PlaceKind::Channel);
        place.parent = Some(team.into());
        place
    };
    let d = decide(
        &p,
        &r,
        &admins,
        false,
        &in_team("19:opsinc@thread.tacv2", "19:opsteam@thread.tacv2"),
    );
    assert_eq!(
        names(&d),
        ["data-staging", "production", "sandbox", "staging"]
    );
    assert!(
        d.guardrail.starts_with("the Ops team allows"),
        "{}",
        d.guardrail
    );
    let d = decide(
        &p,
        &r,
        &admins,
        false,
        &in_team("19:opsgeneral@thread.tacv2", "19:opsteam@thread.tacv2"),
    );
    assert_eq!(names(&d), ["sandbox"]);
    let d = decide(
        &p,
        &r,
        &admins,
        false,
        &in_team("19:x@thread.tacv2", "19:otherteam@thread.tacv2"),
    );
    assert_eq!(names(&d), ["data-staging", "sandbox", "staging"]);
    let personal = Place::new(Platform::Teams, "a:1xyz", PlaceKind::Dm);
    assert_eq!(names(&decide(&p, &r, &admins, false, &personal)).len(), 4);
}

fn keys(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

const QUALIFIED: &str = r##"
[[grant]]
group = "platform-admins"
accounts = ["*"]

[[grant]]
group = "slack:S0PLATFORM"
accounts = ["*"]

[[grant]]
group = "entra:0A1B2C3D-0000-4000-8000-00000000000F"
accounts = ["staging"]

[[grant]]
group = "okta:00gPartners1"
accounts = ["sandbox"]
strangers = true

[[grant]]
group = "schedule:weekly-prod"
accounts = ["*"]

[channels]
dm = ["*"]
"##;

#[test]
fn grants_match_qualified_keys_exactly_so_names_cannot_be_squatted() {
    let p = Policy::parse(QUALIFIED, "access.toml", &sample(), &[], false).unwrap();
    let r = sample();
    let dm = at("D0DM");
    let cases: &[(&[&str], Standing, &[&str])] = &[
        // The static file's group, and the qualified keys, match.
        (
            &["static:platform-admins"],
            Standing::Member,
            &["data-staging", "production", "sandbox", "staging"],
        ),
        (
            &["slack:S0PLATFORM"],
            Standing::Member,
            &["data-staging", "production", "sandbox", "staging"],
        ),
        (
            &["entra:0a1b2c3d-0000-4000-8000-00000000000f"],
            Standing::Member,
            &["staging"],
        ),
        // Squatters: groups of other providers merely named like a grant.
        (
            &[
                "slack:S0SQUATTER",
                "entra:11111111-0000-4000-8000-000000000000",
            ],
            Standing::Member,
            &[],
        ),
        (&["slack:s0platform"], Standing::Member, &[]),
        (&["okta:00gpartners1"], Standing::Member, &[]),
        // Strangers only get strangers = true grants, guests only guests = true ones.
        (
            &["slack:S0PLATFORM", "okta:00gPartners1"],
            Standing::Stranger,
            &["sandbox"],
        ),
        (&["okta:00gPartners1"], Standing::Guest, &[]),
        (&["slack:S0PLATFORM"], Standing::Deactivated, &[]),
        // The schedule's own key is only ever given by code (Access::for_schedule).
        (
            &["schedule:weekly-prod"],
            Standing::Member,
            &["data-staging", "production", "sandbox", "staging"],
        ),
    ];
    for (groups, standing, want) in cases {
        let d = decide_for(&p, &r, &keys(groups), *standing, &dm);
        assert_eq!(names(&d), *want, "{groups:?} as {standing:?}");
    }
    let stranger = decide_for(
        &p,
        &r,
        &keys(&["slack:S0PLATFORM"]),
        Standing::Stranger,
        &dm,
    );
    assert!(
        stranger.removed.is_empty(),
        "nothing named: {:?}",
        stranger.removed
    );
    assert_eq!(stranger.withheld.standing, 4);
}

#[test]
fn bad_group_keys_are_problems_that_say_what_to_write() {
    let bad = r#"
[[grant]]
group = "entra:platform-admins"
accounts = ["*"]

[[grant]]
group = "slack:platform-admins"
accounts = ["*"]

[[grant]]
group = "team:data"
accounts = ["*"]
"#;
    let e = Policy::parse(bad, "access.toml", &sample(), &[], false).unwrap_err();
    let all: String = e
        .iter()
        .map(|p| format!("{}: {}\n", p.key, p.message))
        .collect();
    for needle in [
        "grant[0].group: entra: takes the group's object id",
        "grant[1].group: slack: takes the user group's id",
        "grant[2].group: \"team:data\": \"team\" is not a group provider",
    ] {
        assert!(all.contains(needle), "missing {needle}:\n{all}");
    }
}
