//! The `[store]` section: where shared state lives. `memory` keeps conversations in this
//! process (one replica); `sqlite` also keeps scheduled runs, snapshots and conversation
//! references in `inventory.database`; `dynamodb` keeps all of it in one DynamoDB table so
//! several replicas share it. The endpoint comes from the standard `AWS_ENDPOINT_URL_DYNAMODB`.

use crate::problem::Problem;
use serde::Deserialize;

/// Where state lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// Conversations in memory; runs in memory unless schedules are configured (then SQLite).
    Memory,
    /// Conversations in memory; runs, snapshots and references in the SQLite file.
    Sqlite,
    /// Everything in one DynamoDB table, shared by replicas.
    Dynamodb,
}

/// `[store.dynamodb]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoSettings {
    /// Table name (`store.dynamodb.table`).
    pub table: String,
    /// Region (`store.dynamodb.region`; default: the SDK's region chain).
    pub region: Option<String>,
}

/// `[store]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// The kind; `None` when unset (memory, with SQLite for schedules).
    pub kind: Option<StoreKind>,
    /// The table, when `kind = "dynamodb"`.
    pub dynamodb: Option<DynamoSettings>,
}

impl StoreSettings {
    /// Whether state is shared between replicas.
    pub fn shared(&self) -> bool {
        self.kind == Some(StoreKind::Dynamodb)
    }

    /// How `opsbot check` describes it.
    pub fn describe(&self) -> String {
        match (&self.kind, &self.dynamodb) {
            (Some(StoreKind::Dynamodb), Some(d)) => format!(
                "DynamoDB table {} ({}), shared by replicas",
                d.table,
                d.region.as_deref().unwrap_or("default region")
            ),
            (Some(StoreKind::Sqlite), _) => {
                "conversations in memory, runs in the SQLite file (one replica)".into()
            }
            _ => "in memory (one replica)".into(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawDynamo {
    table: String,
    region: Option<String>,
}

/// Raw `[store]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawStore {
    kind: Option<String>,
    dynamodb: Option<RawDynamo>,
}

impl RawStore {
    /// Validates; pushes every problem.
    pub fn validate(self, problems: &mut Vec<Problem>) -> StoreSettings {
        let kind = match self.kind.as_deref() {
            None => None,
            Some("memory") => Some(StoreKind::Memory),
            Some("sqlite") => Some(StoreKind::Sqlite),
            Some("dynamodb") => Some(StoreKind::Dynamodb),
            Some(other) => {
                problems.push(Problem::new(
                    "store.kind",
                    format!("{other:?} is not one of \"memory\", \"sqlite\" or \"dynamodb\""),
                ));
                None
            }
        };
        let dynamodb = match (kind, self.dynamodb) {
            (Some(StoreKind::Dynamodb), None) => {
                problems.push(Problem::new(
                    "store.dynamodb.table",
                    "required with kind = \"dynamodb\" (the table from iam/store-table.yaml)",
                ));
                None
            }
            (Some(StoreKind::Dynamodb), Some(d)) => {
                let ok = (3..=255).contains(&d.table.len())
                    && d.table
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
                if !ok {
                    problems.push(Problem::new(
                        "store.dynamodb.table",
                        format!(
                            "{:?} is not a DynamoDB table name (3-255 of a-z A-Z 0-9 _ - .)",
                            d.table
                        ),
                    ));
                }
                Some(DynamoSettings {
                    table: d.table,
                    region: d.region,
                })
            }
            (_, Some(_)) => {
                problems.push(Problem::new(
                    "store.dynamodb",
                    "only used with kind = \"dynamodb\"; set store.kind or remove the section",
                ));
                None
            }
            (_, None) => None,
        };
        StoreSettings { kind, dynamodb }
    }
}
