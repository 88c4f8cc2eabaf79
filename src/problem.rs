//! [`Problem`]: one thing wrong with the configuration, reported with every other one at once.
//! Each subsystem validates its own settings section and pushes its problems here.

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key (`slack.mode`), `file: key` for referenced files, or an environment variable.
    pub key: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl Problem {
    /// A problem at `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Lists problems one per line, indented, for error messages.
pub fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {}: {}", p.key, p.message))
        .collect::<Vec<_>>()
        .join("\n")
}
