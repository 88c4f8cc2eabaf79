use super::*;

pub(crate) const SAMPLE: &str = r#"
[[accounts]]
id = "111111111111"
name = "production"
aliases = ["prod", "prd"]
environment = "production"
regions = ["us-east-1", "eu-west-1"]
tags = { team = "platform" }

[[accounts]]
id = "222222222222"
name = "staging"
aliases = ["stage"]
environment = "staging"

[[accounts]]
id = "333333333333"
name = "data-staging"
environment = "staging"
role_name = "custom-ro"
tags = { team = "data" }

[[accounts]]
id = "444444444444"
name = "sandbox"
environment = "dev"
role_arn = "arn:aws:iam::444444444444:role/sandbox-ro"
external_id = "ext-123"
"#;

pub(crate) fn sample() -> Registry {
    Registry::parse(SAMPLE, "accounts.toml", &Settings::default()).unwrap()
}

fn ids(r: Result<Vec<&Account>, ResolveError>) -> Vec<String> {
    r.unwrap().into_iter().map(|a| a.id.clone()).collect()
}

fn all_ids() -> Vec<String> {
    sample().all().iter().map(|a| a.id.clone()).collect()
}

#[test]
fn parses_and_fills_defaults() {
    let r = sample();
    assert_eq!(r.all().len(), 4);
    let s = r.lookup("STAGE").unwrap();
    assert_eq!(s.id, "222222222222");
    assert_eq!(s.regions, ["us-east-1"]);
    assert_eq!(s.role_arn, "arn:aws:iam::222222222222:role/opsbot-readonly");
    assert_eq!(
        r.get("333333333333").unwrap().role_arn,
        "arn:aws:iam::333333333333:role/custom-ro"
    );
    assert_eq!(
        r.get("444444444444").unwrap().role_arn,
        "arn:aws:iam::444444444444:role/sandbox-ro"
    );
}

#[test]
fn resolves_what_people_type() {
    let r = sample();
    let all = all_ids();
    let cases: &[(&str, &[&str])] = &[
        ("production", &["111111111111"]),
        ("prod", &["111111111111"]),
        ("the Prod account", &["111111111111"]),
        ("222222222222", &["222222222222"]),
        ("`stage`", &["222222222222"]),
        ("staging", &["222222222222"]),
        ("staging accounts", &["333333333333", "222222222222"]),
        ("dev", &["444444444444"]),
        (
            "all",
            &[
                "333333333333",
                "111111111111",
                "444444444444",
                "222222222222",
            ],
        ),
        (
            "all accounts",
            &[
                "333333333333",
                "111111111111",
                "444444444444",
                "222222222222",
            ],
        ),
    ];
    for (q, want) in cases {
        assert_eq!(ids(r.resolve(q, &all)), *want, "{q}");
    }
}

#[test]
fn ambiguous_and_unknown_list_only_what_the_person_may_use() {
    let r = sample();
    let all = all_ids();
    match r.resolve("the data account", &all) {
        Err(ResolveError::Unknown { allowed, .. }) => assert_eq!(allowed.len(), 4),
        other => panic!("{other:?}"),
    }
    let only_staging = vec!["222222222222".to_string(), "333333333333".to_string()];
    let qa = Registry::parse(
        "[[accounts]]\nid = \"555555555555\"\nname = \"qa-1\"\nenvironment = \"qa\"\n[[accounts]]\nid = \"666666666666\"\nname = \"qa-2\"\nenvironment = \"qa\"\n",
        "f",
        &Settings::default(),
    )
    .unwrap();
    let both = vec!["555555555555".to_string(), "666666666666".to_string()];
    assert!(matches!(
        qa.resolve("the QA account", &both),
        Err(ResolveError::Ambiguous { .. })
    ));
    assert_eq!(qa.resolve("qa", &both).unwrap().len(), 2);
    let e = r.resolve("prod", &only_staging).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("staging (222222222222)") && !text.contains("111111111111"),
        "{text}"
    );
    assert!(r.resolve("all", &[]).is_err());
}

#[test]
fn every_problem_is_listed() {
    let bad = r#"
[[accounts]]
id = "12345"
name = "prod uction"
regions = ["us-east-1", "mars-north-1"]

[[accounts]]
id = "222222222222"
name = "staging"
aliases = ["staging", "all"]
role_arn = "arn:aws:iam::999999999999:role/x"

[[accounts]]
id = "222222222222"
name = "other"
regions = []
role_arn = "arn:aws:iam::222222222222:role/x"
role_name = "y"
"#;
    let problems = Registry::parse(bad, "accounts.toml", &Settings::default()).unwrap_err();
    let text: Vec<String> = problems
        .iter()
        .map(|p| format!("{}: {}", p.key, p.message))
        .collect();
    let joined = text.join("\n");
    for needle in [
        "12-digit",
        "prod uction",
        "mars-north-1",
        "already used",
        "reserved",
        "not a role ARN",
        "at least one region",
        "not both",
    ] {
        assert!(joined.contains(needle), "missing {needle}:\n{joined}");
    }
    assert!(problems.iter().all(|p| p.key.starts_with("accounts.toml")));
}

#[test]
fn unknown_keys_are_errors_and_extra_regions_allow_new_ones() {
    let e = Registry::parse(
        "[[accounts]]\nid = \"111111111111\"\nname = \"a\"\ncolour = 1\n",
        "f",
        &Settings::default(),
    )
    .unwrap_err();
    assert!(e[0].message.contains("colour"), "{e:?}");
    let settings = Settings {
        extra_regions: vec!["xx-new-1".into()],
        ..Settings::default()
    };
    assert!(
        Registry::parse(
            "[[accounts]]\nid = \"111111111111\"\nname = \"a\"\nregions = [\"xx-new-1\"]\n",
            "f",
            &settings
        )
        .is_ok()
    );
}
