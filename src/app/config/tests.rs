use super::*;
use crate::chat::slack::settings::{ENV_API_URL, ENV_APP_TOKEN, ENV_BOT_TOKEN, ENV_SIGNING_SECRET};

fn env_with(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    }
}
const SECRETS: &[(&str, &str)] = &[(ENV_BOT_TOKEN, "xoxb-1"), (ENV_SIGNING_SECRET, "s3cr3t")];

fn parse(text: &str, env: &[(&'static str, &'static str)]) -> Result<Config, Vec<Problem>> {
    let vars: &'static [(&str, &str)] = Box::leak(env.to_vec().into_boxed_slice());
    Config::parse(text, Path::new("t.toml"), &env_with(vars))
}

#[test]
fn empty_file_gives_defaults() {
    let c = parse("", SECRETS).unwrap();
    assert_eq!(c.server.listen.to_string(), "0.0.0.0:3000");
    assert_eq!(c.slack.command, "/aws");
    assert_eq!(c.slack.api_url, "https://slack.com/api");
    assert_eq!(c.server.body_limit_bytes, 1 << 20);
    assert_eq!(c.slack.mode, SlackMode::Http);
}

#[test]
fn every_unknown_key_is_listed() {
    let e = parse("[server]\nlisten_on = 1\n[slak]\nx = 1\n", SECRETS).unwrap_err();
    let keys: Vec<_> = e.iter().map(|p| p.key.as_str()).collect();
    assert!(keys.contains(&"server.listen_on"), "{keys:?}");
    assert!(keys.contains(&"slak"), "{keys:?}");
}

#[test]
fn missing_secrets_are_named_with_where_to_get_them() {
    let e = parse("[slack]\nmode = \"socket\"\n", &[]).unwrap_err();
    let keys: Vec<_> = e.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, [ENV_BOT_TOKEN, ENV_APP_TOKEN]);
    assert!(e[1].message.contains("App-Level Tokens"));
}

#[test]
fn env_overrides_api_url_and_bad_values_are_all_reported() {
    let mut env = SECRETS.to_vec();
    env.push((ENV_API_URL, "http://127.0.0.1:9/api/"));
    let c = parse("", &env).unwrap();
    assert_eq!(c.slack.api_url, "http://127.0.0.1:9/api");
    let e = parse(
        "[server]\nlisten = \"nope\"\n[slack]\ncommand = \"aws\"\n[work]\nmax_concurrent = 0\n",
        SECRETS,
    )
    .unwrap_err();
    assert_eq!(e.len(), 4, "{e:?}");
}

#[test]
fn secrets_never_print() {
    let c = parse("", SECRETS).unwrap();
    let shown = format!("{c:?} {}", c.summary());
    assert!(
        !shown.contains("xoxb-1") && !shown.contains("s3cr3t"),
        "{shown}"
    );
}

#[test]
fn wrong_type_is_a_problem_not_a_panic() {
    let e = parse("[server]\ndrain_seconds = \"ten\"\n", SECRETS).unwrap_err();
    assert_eq!(e[0].key, "server.drain_seconds", "{e:?}");
}

#[test]
fn a_bad_enum_value_does_not_hide_other_problems() {
    let e = parse(
        "[slack]\nmode = \"carrier-pigeon\"\nprogres = \"none\"\n[server]\nlisten = \"nowhere\"\n[accounts]\nfile = \"missing-accounts.toml\"\n",
        SECRETS,
    )
    .unwrap_err();
    let all: String = e
        .iter()
        .map(|p| format!("{}: {}\n", p.key, p.message))
        .collect();
    for needle in [
        "slack.mode: \"carrier-pigeon\" is not one of \"http\" or \"socket\"",
        "slack.progres: unknown key",
        "server.listen: \"nowhere\" is not an address",
        "missing-accounts.toml",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
}

#[test]
fn a_type_error_in_one_section_leaves_the_others_checked() {
    let e = parse(
        "[work]\nmax_concurrent = \"lots\"\n[server]\nlisten = \"nowhere\"\n[identity]\nproviders = [\"carrier-pigeon\"]\n",
        SECRETS,
    )
    .unwrap_err();
    let keys: Vec<&str> = e.iter().map(|p| p.key.as_str()).collect();
    assert!(keys.contains(&"work.max_concurrent"), "{keys:?}");
    assert!(keys.contains(&"server.listen"), "{keys:?}");
    assert!(
        keys.iter().any(|k| k.starts_with("identity.providers")),
        "{keys:?}"
    );
}

#[test]
fn terminal_commands_need_no_slack_secrets() {
    let vars: &'static [(&str, &str)] = &[];
    let c = Config::parse_for("", Path::new("t.toml"), &env_with(vars), Needs::Optional).unwrap();
    assert!(!c.slack.has_token());
    assert!(c.summary().contains("secrets:        none"));
}

fn fixtures(extra: &str) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/agent");
    format!(
        "[accounts]\nfile = \"{dir}/accounts.toml\"\naccess_file = \"{dir}/access.toml\"\n{extra}"
    )
}

#[test]
fn schedules_are_validated_and_never_silently_narrowed() {
    let ok = parse(
        &fixtures("[[schedule]]\nname = \"weekly\"\ncron = \"0 9 * * MON\"\ntimezone = \"Europe/Berlin\"\npost_to = \"slack:C0INV\"\n"),
        SECRETS,
    )
    .unwrap();
    assert_eq!(ok.inventory.schedules.len(), 1);
    assert!(
        ok.summary()
            .contains("weekly \"0 9 * * MON\" (Europe/Berlin) to slack:C0INV"),
        "{}",
        ok.summary()
    );
    // "nightly" has no grant of its own: refused at start-up, naming the fix.
    let e = parse(
        &fixtures(
            "[[schedule]]\nname = \"nightly\"\ncron = \"0 2 * * *\"\npost_to = \"slack:C0INV\"\naccounts = [\"production\"]\n\
             [[schedule]]\nname = \"bad one\"\ncron = \"0 25 * * *\"\ntimezone = \"Mars/Olympus\"\npost_to = \"general\"\nkinds = [\"ec2\", \"dynamo\"]\n",
        ),
        SECRETS,
    )
    .unwrap_err();
    let all: String = e
        .iter()
        .map(|p| format!("{}: {}\n", p.key, p.message))
        .collect();
    for needle in [
        "schedule[0].accounts: \"production\" is not allowed for this schedule in slack:C0INV",
        "group = \"schedule:nightly\"",
        "schedule[1].name",
        "schedule[1].cron",
        "schedule[1].timezone",
        "schedule[1].post_to",
        "schedule[1].kinds: \"dynamo\"",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
}

const TEAMS: &str = "[teams]\napp_id = \"0b0b0b0b-1111-2222-3333-444444444444\"\ntenant_id = \"7e7e7e7e-aaaa-bbbb-cccc-dddddddddddd\"\n";

#[test]
fn teams_alone_needs_no_slack_secrets_and_names_its_own() {
    let e = parse(TEAMS, &[]).unwrap_err();
    let keys: Vec<_> = e.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["TEAMS_CLIENT_SECRET"],
        "only the Teams secret is missing"
    );
    assert!(
        e[0].message.contains("Certificates & secrets"),
        "{}",
        e[0].message
    );
    let c = parse(TEAMS, &[("TEAMS_CLIENT_SECRET", "x")]).unwrap();
    assert!(!c.slack_enabled);
    let t = c.teams.as_ref().unwrap();
    assert_eq!(t.login_url, "https://login.microsoftonline.com");
    assert!(
        c.summary().contains("slack mode:     off"),
        "{}",
        c.summary()
    );
    assert!(c.summary().contains("/api/messages"), "{}", c.summary());
    assert!(
        !format!("{c:?}").contains("\"x\""),
        "the secret never prints"
    );
    // Both: each platform's secrets are required.
    let e = parse(
        &format!("[slack]\n{TEAMS}"),
        &[("TEAMS_CLIENT_SECRET", "x")],
    )
    .unwrap_err();
    let keys: Vec<_> = e.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, [ENV_BOT_TOKEN, ENV_SIGNING_SECRET]);
}

#[test]
fn teams_settings_and_schedules_are_checked_together() {
    let e = parse(
        &format!("{TEAMS}progress = \"bubbles\"\nallowed_service_hosts = []\n"),
        &[("TEAMS_CLIENT_SECRET", "x")],
    )
    .unwrap_err();
    let keys: Vec<_> = e.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["teams.allowed_service_hosts", "teams.progress"],
        "{e:?}"
    );
    let schedule = "[[schedule]]\nname = \"weekly\"\ncron = \"0 9 * * MON\"\npost_to = \"teams:19:abc@thread.tacv2\"\n";
    let e = parse(&fixtures(schedule), SECRETS).unwrap_err();
    let keys: Vec<_> = e.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["schedule[0].post_to"], "no [teams] to post with");
    assert!(
        parse(
            &fixtures(&format!("{TEAMS}{schedule}")),
            &[("TEAMS_CLIENT_SECRET", "x")]
        )
        .is_ok()
    );
}

#[test]
fn several_replicas_need_the_shared_store_and_fit_slacks_socket_limit() {
    let e = parse("[server]\nreplicas = 3\n", SECRETS).unwrap_err();
    assert_eq!(e[0].key, "server.replicas");
    assert!(e[0].message.contains("dynamodb"), "{}", e[0].message);
    let shared = "[server]\nreplicas = 3\n[store]\nkind = \"dynamodb\"\n[store.dynamodb]\ntable = \"opsbot\"\n";
    let c = parse(shared, SECRETS).unwrap();
    assert!(c.store.shared());
    assert!(
        c.summary().contains("DynamoDB table opsbot"),
        "{}",
        c.summary()
    );
    let mut socket = SECRETS.to_vec();
    socket.push((ENV_APP_TOKEN, "xapp-1"));
    let e = parse(
        &format!("{shared}[slack]\nmode = \"socket\"\nsocket_connections = 3\n"),
        &socket,
    )
    .unwrap_err();
    assert_eq!(e[0].key, "slack.socket_connections");
    assert!(e[0].message.contains("= 12"), "{}", e[0].message);
    assert!(
        parse(
            &format!("{shared}[slack]\nmode = \"socket\"\nsocket_connections = 2\n"),
            &socket
        )
        .is_ok()
    );
    let e = parse(
        "[store]\nkind = \"dynamo\"\n[store.dynamodb]\ntable = \"x\"\n",
        SECRETS,
    )
    .unwrap_err();
    let keys: Vec<_> = e.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["store.kind", "store.dynamodb"]);
    let e = parse("[store]\nkind = \"dynamodb\"\n", SECRETS).unwrap_err();
    assert_eq!(e[0].key, "store.dynamodb.table");
}

#[test]
fn check_says_what_a_self_hosted_mcp_server_loses() {
    let e = parse(
        "[mcp]\nurl = \"http://127.0.0.1:9/mcp\"\nsigning_region = \"us-east-1\"\n",
        SECRETS,
    )
    .unwrap_err();
    assert_eq!(e[0].key, "mcp.server");
    assert!(e[0].message.contains("self_hosted"), "{e:?}");
    let c = parse(
        "[mcp]\nurl = \"http://127.0.0.1:9/mcp\"\nsigning_region = \"us-east-1\"\nserver = \"self_hosted\"\n",
        SECRETS,
    )
    .unwrap();
    let summary = c.summary();
    assert!(summary.contains("SELF-HOSTED"), "{summary}");
    assert!(
        summary.contains("no SourceIdentity in CloudTrail"),
        "{summary}"
    );
    let hosted = parse("", SECRETS).unwrap().summary();
    assert!(
        hosted.contains("every call runs as the asking person"),
        "{hosted}"
    );
}

#[test]
fn read_caps_are_configurable_and_checked() {
    let c = parse(
        "[work]\nmax_targets_per_read = 5\nmax_targets_per_answer = 9\nmax_result_mib = 2\n",
        SECRETS,
    )
    .unwrap();
    assert_eq!(c.work.read_caps.targets_per_read, 5);
    assert_eq!(c.work.read_caps.targets_per_answer, 9);
    assert_eq!(c.work.read_caps.result_bytes, 2 * 1024 * 1024);
    let e = parse(
        "[work]\nmax_targets_per_read = 50\nmax_targets_per_answer = 9\nmax_result_mib = 0\n",
        SECRETS,
    )
    .unwrap_err();
    let keys: Vec<_> = e.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["work.max_targets_per_answer", "work.max_result_mib"]);
}
