//! Bounds on one answer's reads, whatever the model asks for: account × region targets per
//! read and in total, bytes of results held, and the answer's deadline, which cuts reads still
//! running rather than waiting for them. What a cap cuts becomes a refused or failed note, so
//! the answer says what is missing and how to narrow the question.

use super::fanout::{Refused, Target, TargetError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// The configured caps (`work.max_targets_per_read`, `work.max_targets_per_answer`,
/// `work.max_result_mib`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Most account × region targets one read may fan out to.
    pub targets_per_read: usize,
    /// Most targets all reads of one answer may use together.
    pub targets_per_answer: usize,
    /// Most bytes of (redacted) results one answer keeps.
    pub result_bytes: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Self {
            targets_per_read: 300,
            targets_per_answer: 600,
            result_bytes: 16 * 1024 * 1024,
        }
    }
}

/// What one answer has used of its [`Caps`], and when it must be done.
#[derive(Debug)]
pub struct Budget {
    caps: Caps,
    deadline: Instant,
    targets: AtomicUsize,
    bytes: AtomicUsize,
}

impl Budget {
    /// A budget of `caps` for an answer due at `deadline`.
    pub fn new(caps: Caps, deadline: Instant) -> Self {
        Self {
            caps,
            deadline,
            targets: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
        }
    }

    /// No caps, a day to finish (scheduled inventory, bounded by its own configuration).
    pub fn unlimited() -> Self {
        Self::new(
            Caps {
                targets_per_read: usize::MAX,
                targets_per_answer: usize::MAX,
                result_bytes: usize::MAX,
            },
            Instant::now() + Duration::from_secs(86_400),
        )
    }

    /// When the reads must be done.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Keeps as many of `targets` as the caps allow; what is cut is returned as one refusal.
    pub fn take(&self, targets: &mut Vec<Target>) -> Option<Refused> {
        let wanted = targets.len();
        let per_read = wanted.min(self.caps.targets_per_read);
        let mut granted = 0;
        let _ = self
            .targets
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                granted = per_read.min(self.caps.targets_per_answer.saturating_sub(used));
                Some(used + granted)
            });
        if granted == wanted {
            return None;
        }
        targets.truncate(granted);
        let (key, cap) = if per_read < wanted && granted == per_read {
            ("work.max_targets_per_read", self.caps.targets_per_read)
        } else {
            ("work.max_targets_per_answer", self.caps.targets_per_answer)
        };
        Some(Refused {
            what: format!("{} more account-region target(s)", wanted - granted),
            why: format!(
                "not queried: this answer may query at most {cap} account-region targets ({key}); ask about fewer accounts or regions"
            ),
        })
    }

    /// Charges `bytes` of results; `Err` (the target's error) once the answer holds too much.
    pub fn hold(&self, bytes: usize) -> Result<(), TargetError> {
        let cap = self.caps.result_bytes;
        let ok = self
            .bytes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(bytes).filter(|&n| n <= cap)
            })
            .is_ok();
        if ok {
            Ok(())
        } else {
            Err(TargetError {
                code: "too_large".into(),
                message: format!(
                    "its results were not kept: this answer already holds {} MiB of results (work.max_result_mib); narrow the question with filters, fewer accounts or regions",
                    cap / (1024 * 1024)
                ),
            })
        }
    }

    /// The error of a target still running at the deadline.
    pub fn late() -> TargetError {
        TargetError {
            code: "deadline".into(),
            message: "no answer before this answer's deadline (work.answer_timeout_seconds); try again, or ask about fewer accounts".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(n: usize) -> Vec<Target> {
        (0..n)
            .map(|i| Target {
                account: format!("{i:012}"),
                label: format!("a{i}"),
                name: format!("a{i}"),
                region: "us-east-1".into(),
            })
            .collect()
    }

    fn caps(per_read: usize, per_answer: usize, bytes: usize) -> Caps {
        Caps {
            targets_per_read: per_read,
            targets_per_answer: per_answer,
            result_bytes: bytes,
        }
    }

    #[test]
    fn targets_are_cut_per_read_then_per_answer() {
        let b = Budget::new(caps(3, 4, 100), Instant::now());
        let mut t = targets(2);
        assert_eq!(b.take(&mut t), None);
        let mut t = targets(4);
        let cut = b.take(&mut t).unwrap();
        assert_eq!(t.len(), 2);
        assert!(cut.why.contains("work.max_targets_per_answer"), "{cut:?}");
        assert_eq!(cut.what, "2 more account-region target(s)");
        let mut t = targets(1);
        assert!(b.take(&mut t).is_some());
        assert!(t.is_empty(), "the answer's total is used up");

        let b = Budget::new(caps(3, 100, 100), Instant::now());
        let mut t = targets(10);
        let cut = b.take(&mut t).unwrap();
        assert_eq!(t.len(), 3);
        assert!(cut.why.contains("work.max_targets_per_read"), "{cut:?}");
    }

    #[test]
    fn results_beyond_the_byte_cap_are_not_held() {
        let b = Budget::new(caps(10, 10, 2 * 1024 * 1024), Instant::now());
        assert!(b.hold(1024 * 1024).is_ok());
        assert!(b.hold(1024 * 1024).is_ok());
        let e = b.hold(1).unwrap_err();
        assert_eq!(e.code, "too_large");
        assert!(e.message.contains("2 MiB"), "{e:?}");
        assert!(Budget::unlimited().hold(usize::MAX).is_ok());
    }
}
