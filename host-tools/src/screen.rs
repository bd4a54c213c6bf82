//! Text for a screen: whatever came from a card or a file is shown, never obeyed.
//!
//! A card's record, a reader's name or a line of a file can hold characters a terminal takes as
//! commands: ESC sequences that clear the screen, retitle the window or move the cursor, C1
//! controls (`9B` is CSI on its own), a carriage return that overwrites a line, Unicode bidi
//! overrides that reorder what is shown. [`escape`] turns each of them into a visible escape
//! (`\x1b`, `\r`, `\u{9b}`, `\u{202e}`) and leaves every other character as it is, so decoded
//! Chinese text stays readable. The escapes are for reading: `--json` gives the exact text.

use std::borrow::Cow;
use std::fmt::Write;

/// Unicode's format characters (general category Cf, Unicode 15.1): invisible, and some of
/// them (bidi embeddings, overrides and isolates) reorder the text around them.
const FORMAT: [(u32, u32); 21] = [
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

/// Whether a terminal could take `c` as a command, or let it move or hide other text: the C0
/// controls (newline and tab included), DEL, the C1 controls, the format characters and the
/// line and paragraph separators.
pub fn is_control(c: char) -> bool {
    let code = u32::from(c);
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}')
        || FORMAT
            .iter()
            .any(|&(first, last)| (first..=last).contains(&code))
}

fn push_escape(out: &mut String, c: char) {
    let _ = match c {
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        c if c.is_ascii() => write!(out, "\\x{:02x}", u32::from(c)),
        c => write!(out, "\\u{{{:x}}}", u32::from(c)),
    };
}

fn escape_where(text: &str, unsafe_char: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One value for a screen (a record, a name, a path, a sentence): every control character,
/// newline included, as a visible escape. The result holds no character [`is_control`] finds.
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_where(text, is_control)
}

/// A whole output for a screen, its lines kept: as [`escape`], but `\n` stays a line break.
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    escape_where(text, |c| c != '\n' && is_control(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn terminal_commands_become_visible_escapes() {
        assert_eq!(
            escape("\x1b]0;pwned\x07\x1b[2J"),
            "\\x1b]0;pwned\\x07\\x1b[2J"
        );
        assert_eq!(
            escape("a\u{9b}1A\u{202e}b\r\n\t\x7f"),
            "a\\u{9b}1A\\u{202e}b\\r\\n\\t\\x7f"
        );
        assert_eq!(
            escape("\u{2066}x\u{2069}\u{200b}\u{feff}"),
            "\\u{2066}x\\u{2069}\\u{200b}\\u{feff}"
        );
        assert_eq!(
            escape_lines("line 1\nline\x1b[A 2\n"),
            "line 1\nline\\x1b[A 2\n"
        );
    }

    #[test]
    fn chinese_and_plain_text_stay_as_they_are() {
        for text in [
            "张测试",
            "社会保障卡 — national 3.0",
            "T0000001X",
            "O'Brien \"C:\\x\"",
            "€ ½ é ñ 한국어",
        ] {
            assert!(matches!(escape(text), Cow::Borrowed(_)), "{text}");
            assert_eq!(escape(text), text);
        }
    }

    /// Strings rich in what a hostile card would send.
    fn hostile() -> impl Strategy<Value = String> {
        let pick = prop_oneof![
            any::<char>(),
            (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap_or('?')),
            (0x7Fu32..0xA0).prop_map(|c| char::from_u32(c).unwrap_or('?')),
            (0x2000u32..0x2070).prop_map(|c| char::from_u32(c).unwrap_or('?')),
            Just('张'),
            Just('\n'),
        ];
        proptest::collection::vec(pick, 0..40).prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #[test]
        fn escaped_text_holds_no_control_character(text in hostile()) {
            let shown = escape(&text);
            prop_assert!(!shown.chars().any(is_control), "{:?}", shown);
            prop_assert!(!shown.bytes().any(|b| b < 0x20 || b == 0x7F), "{:?}", shown);
            let lines = escape_lines(&text);
            prop_assert!(!lines.chars().any(|c| c != '\n' && is_control(c)), "{:?}", lines);
            prop_assert_eq!(lines.matches('\n').count(), text.matches('\n').count());
            // Every other character is kept, in order.
            let kept: String = text.chars().filter(|&c| !is_control(c)).collect();
            prop_assert_eq!(escape(&kept), kept.as_str());
        }

        #[test]
        fn escaping_twice_changes_nothing(text in hostile()) {
            let once = escape(&text).into_owned();
            prop_assert_eq!(escape(&once), once.as_str());
            let lines = escape_lines(&text).into_owned();
            prop_assert_eq!(escape_lines(&lines), lines.as_str());
        }
    }
}
