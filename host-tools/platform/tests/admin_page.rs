//! The admin page in headless Chromium: a card and its events, and the error in words for an
//! unknown card.

mod browser;
mod common;

use std::time::Duration;

use browser::Page;
use common::*;
use sscard_platform::model::{LossKind, LossRequest};

/// The page's DOM once its script has shown the card and its events, or an error.
fn rendered_dom(url: &str) -> String {
    let mut page = Page::open(url);
    page.wait_for(
        "the card's events or an error",
        "document.getElementById('error').textContent \
         || document.querySelectorAll('tr.event').length",
        Duration::from_secs(30),
    );
    page.eval("document.documentElement.outerHTML")
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
#[ignore = "browser: needs chromium (scripts/test.sh runs it)"]
fn the_admin_page_lists_a_card_and_its_events() {
    let h = Harness::new(Db::Sqlite);
    let mut holder = card(7);
    // A name that would be markup if the page put data into HTML.
    holder.name = "<b>王</b>测试".into();
    h.register(&[holder]);
    h.admin()
        .report_loss(
            "T00000007",
            &LossRequest {
                kind: LossKind::Temporary,
                note: None,
            },
            None,
        )
        .unwrap();
    let dom = rendered_dom(&format!(
        "{}/admin#card=T00000007&token={}",
        h.base, h.admin_token
    ));
    assert!(
        dom.contains("<td id=\"state\">temporarily_lost</td>"),
        "{dom}"
    );
    assert!(
        dom.contains("&lt;b&gt;王&lt;/b&gt;测试"),
        "the name is shown as text: {dom}"
    );
    assert_eq!(dom.matches("<tr class=\"event\">").count(), 2, "{dom}");
    assert!(dom.contains("registered") && dom.contains("reported-lost-temporarily"));
    // An unknown card: the reason in words, no table.
    let dom = rendered_dom(&format!(
        "{}/admin#card=T00000099&token={}",
        h.base, h.admin_token
    ));
    assert!(
        dom.contains("card T00000099 is not in the registry"),
        "{dom}"
    );
    // A wrong token: refused in words.
    let dom = rendered_dom(&format!("{}/admin#card=T00000007&token=sscp_00", h.base));
    assert!(dom.contains("not a live terminal credential"), "{dom}");
}
