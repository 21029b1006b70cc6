//! The status page's HTML: one self-contained document (inline CSS and script, no
//! external asset) that carries the status JSON of the moment it was served, so
//! the first response renders at once; the script renders it, then fetches
//! `status.json` every few seconds and renders again.
//!
//! Everything that comes from data is escaped: in the markup by [`escape`], in the
//! embedded JSON by [`script_json`] (and in the script's own rendering by its
//! `esc` function).

use serde_json::Value;

const CSS: &str = include_str!("page.css");
const JS: &str = include_str!("page.js");

/// `text` with the five characters that matter in HTML text and attribute values
/// replaced by entities.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `value` as JSON safe to place inside a `<script>` element: `<`, `>` and `&`
/// (which can only occur inside strings) and the two line separators JavaScript
/// once refused are written as `\u` escapes, so no data can close the element.
pub fn script_json(value: &Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The page for `status` (the document of [`super::status_json`]).
pub fn page(status: &Value) -> String {
    let name = status["node"]["node_name"].as_str().unwrap_or_default();
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tusk · {title}</title>
<style>{CSS}</style>
</head>
<body>
<header><h1>tusk <span class="muted">status</span></h1><span id="live" class="live">loading…</span></header>
<main id="nodes"><noscript>This page renders with JavaScript; the same data is at <a href="status.json">status.json</a>.</noscript></main>
<script id="status-data" type="application/json">{data}</script>
<script>{JS}</script>
</body>
</html>
"#,
        title = escape(name),
        data = script_json(status),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn escape_replaces_markup_characters() {
        assert_eq!(
            escape(r#"<a href="x">Tom & Jerry's</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
        );
        assert_eq!(escape("plain-v1 é"), "plain-v1 é");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn script_json_cannot_close_its_element() {
        let value = json!({"note": "</script><script>alert(1)</script>", "e": "a&b\u{2028}"});
        let text = script_json(&value);
        assert!(!text.contains('<'), "{text}");
        assert!(!text.contains('>'), "{text}");
        assert!(!text.contains('&'), "{text}");
        assert!(!text.contains('\u{2028}'), "{text}");
        // Still the same JSON.
        let back: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(back, value);
    }

    #[test]
    fn the_page_embeds_the_status_and_escapes_the_title() {
        let status = json!({"node": {"node_name": "<n1>"}, "domains": [{"name": "</script>"}]});
        let html = page(&status);
        assert!(html.contains("<title>tusk · &lt;n1&gt;</title>"), "{html}");
        assert!(
            !html.contains("</script>\"") && !html.contains("<n1>"),
            "{html}"
        );
        assert!(
            html.contains(r#""name":"\u003c/script\u003e""#),
            "the data is embedded, escaped: {html}"
        );
        // Self-contained: no external asset.
        assert!(!html.contains("src="), "{html}");
        assert!(!html.contains("<link"), "{html}");
    }
}
