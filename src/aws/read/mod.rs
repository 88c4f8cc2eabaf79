//! The validated read path every AWS question goes through (the agent's tool, `/aws run`, and
//! scheduled inventory): [`guard`] decides what may be called (only what [`allowed`] lists),
//! [`fanout`] runs it across
//! accounts × regions within the [`limiter`] with [`script`]-rendered calls, [`redact`] removes
//! secrets from results, [`views`] turns results into rows, [`caps`] bounds what one answer may
//! read and hold.

pub mod allowed;
pub mod caps;
pub mod fanout;
pub mod guard;
pub mod limiter;
pub mod redact;
pub mod script;
pub mod views;
