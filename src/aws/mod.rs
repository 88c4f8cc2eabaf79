//! AWS access on behalf of people: STS credentials per (person, account, role), attributable in
//! CloudTrail, pooled; and `opsbot check --aws`.

pub mod check;
pub mod mcp;
pub mod pool;
pub mod principal;
pub mod read;
pub mod scoped;
pub mod sdk;
pub mod sts;
