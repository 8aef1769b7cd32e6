//! `/docs`: a page that renders `/api/openapi.json` (`assets/docs.html`). Everything it needs is
//! in that one file, so it works offline: no CDN, no bundler.
//!
//! Its Content-Security-Policy allows exactly its own inline script and style (by hash) and
//! fetches to this origin, so the page is as locked down as the JSON routes.

use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

const PAGE: &str = include_str!("../assets/docs.html");

static CSP: LazyLock<HeaderValue> = LazyLock::new(|| {
    let hash = |tag: &str| {
        let body = between(PAGE, &format!("<{tag}>"), &format!("</{tag}>"));
        let digest = Sha256::digest(body.as_bytes());
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        )
    };
    let policy = format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        hash("script"),
        hash("style")
    );
    HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static("default-src 'none'"))
});

fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text.find(open).map_or(0, |i| i + open.len());
    let end = text[start..].find(close).map_or(start, |i| start + i);
    &text[start..end]
}

/// The docs page, with the policy that lets it run.
pub(crate) async fn page() -> Response {
    let mut res = Html(PAGE).into_response();
    res.headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, CSP.clone());
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_pins_the_page_script_and_style() {
        let csp = CSP.to_str().expect("ascii");
        assert!(csp.contains("script-src 'sha256-"), "{csp}");
        assert!(csp.contains("style-src 'sha256-"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert!(between(PAGE, "<script>", "</script>").contains("openapi.json"));
        assert!(
            !PAGE.contains("http://") && !PAGE.contains("https://"),
            "no external assets"
        );
    }
}
