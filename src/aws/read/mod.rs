//! The validated read path every AWS question goes through (the agent's tool, `/aws run`, and
//! scheduled inventory): [`guard`] decides what may be called (only what [`allowed`] lists),
//! [`fanout`] resolves the targets and reads their answers, [`reader`] runs them through the MCP
//! server in as few requests as the quota allows ([`batch`]: many reads in one `run_script`;
//! [`script`]: `call_aws` lines), [`redact`] removes secrets from results, [`views`] turns
//! results into rows, [`caps`] bounds what one answer may read and hold.

pub mod allowed;
pub mod batch;
pub mod caps;
pub mod fanout;
pub mod guard;
pub mod reader;
pub mod redact;
pub mod script;
pub mod views;
