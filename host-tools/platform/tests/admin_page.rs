//! The admin page in headless Chromium: a card and its events, and the error in words for an
//! unknown card.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use sscard_platform::model::{LossKind, LossRequest};

/// The page's DOM after its script ran, as Chromium dumps it.
fn dump_dom(url: &str) -> String {
    let profile = std::env::temp_dir().join(format!(
        "sscard-admin-page-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    ));
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.display()),
            "--virtual-time-budget=10000",
            "--dump-dom",
            url,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromium (Debian package chromium)");
    // Bounded: a browser that hangs fails the test instead of holding it.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(&profile);
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    String::from_utf8_lossy(&output.stdout).into_owned()
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
    let dom = dump_dom(&format!(
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
    let dom = dump_dom(&format!(
        "{}/admin#card=T00000099&token={}",
        h.base, h.admin_token
    ));
    assert!(
        dom.contains("card T00000099 is not in the registry"),
        "{dom}"
    );
    // A wrong token: refused in words.
    let dom = dump_dom(&format!("{}/admin#card=T00000007&token=sscp_00", h.base));
    assert!(dom.contains("not a live terminal credential"), "{dom}");
}
