//! The holder's page and the pharmacy's scanner page (docs/electronic-card.md, "The pages"):
//! static HTML, JavaScript and CSS built into the binary, served with a Content-Security-Policy
//! that allows nothing but this service's own scripts, styles and API, and images drawn from
//! `data:` URLs (the QR code's SVG). Every credential stays in the page's memory.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// Nothing from elsewhere: no inline script or style, no other origin, no framing, no form that
/// could post a password anywhere if the script failed to load.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src data:; connect-src 'self'; form-action 'none'; \
     frame-ancestors 'none'; base-uri 'none'";

const HOLDER_HTML: &str = include_str!("pages/holder.html");
const HOLDER_JS: &str = include_str!("pages/holder.js");
const SCANNER_HTML: &str = include_str!("pages/scanner.html");
const SCANNER_JS: &str = include_str!("pages/scanner.js");
const PAGES_CSS: &str = include_str!("pages/pages.css");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        body,
    )
        .into_response()
}

/// The routes of the two pages and their assets.
pub fn router() -> Router {
    const HTML: &str = "text/html; charset=utf-8";
    const JS: &str = "text/javascript; charset=utf-8";
    Router::new()
        .route("/ecard", get(|| async { asset(HTML, HOLDER_HTML) }))
        .route("/ecard/holder.js", get(|| async { asset(JS, HOLDER_JS) }))
        .route(
            "/ecard/scanner",
            get(|| async { asset(HTML, SCANNER_HTML) }),
        )
        .route("/ecard/scanner.js", get(|| async { asset(JS, SCANNER_JS) }))
        .route(
            "/ecard/pages.css",
            get(|| async { asset("text/css; charset=utf-8", PAGES_CSS) }),
        )
}
