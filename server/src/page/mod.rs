//! The status page on the metrics listener: `GET /` is a small self-contained HTML
//! page (`html.rs`, with `page.css` and `page.js` inlined) that renders this node's
//! status and refreshes it from `GET /status.json` (`json.rs`), the JSON built from
//! the Status RPC's answer (the same document `tusk status --json` prints).
//!
//! The script renders one node section per status document, so a fleet view can
//! later render several side by side from the same function.

mod html;
mod json;

pub use html::{escape, page, script_json};
pub use json::{eta, percent, state_name, status_json};
