//! Drawing codes: the PNG's pixels are the QR modules, the terminal text has two module rows a
//! line, and the SVG is one document.

use sscard_ecard::render::{self, RenderError, TerminalColours, QUIET_ZONE_MODULES};
use sscard_ecard::{Claims, EcardId, PlatformSecretKey, Purpose, Signer, UnixTime};

fn code() -> String {
    let key = PlatformSecretKey::generate().unwrap();
    let claims = Claims {
        ecard: EcardId::from_bytes([3; 16]),
        member: Some(EcardId::from_bytes([4; 16])),
        purpose: Purpose::Identity,
    };
    Signer::new(&key)
        .unwrap()
        .issue(&claims, UnixTime(1_800_000_000))
        .unwrap()
}

#[test]
fn a_code_is_a_small_symbol_in_alphanumeric_mode() {
    // At level M, alphanumeric mode holds 178 characters in version 7 and 221 in version 8; byte
    // mode (122, 152, 180, 213 bytes in versions 7 to 10) would need versions 9 and 10.
    let mut code = code();
    assert_eq!(code.len(), 199);
    assert_eq!(render::modules(&code).unwrap().0, 17 + 4 * 8);
    // Without a member (173 characters): version 7.
    let key = PlatformSecretKey::generate().unwrap();
    let claims = Claims {
        ecard: EcardId::from_bytes([3; 16]),
        member: None,
        purpose: Purpose::Identity,
    };
    code = Signer::new(&key)
        .unwrap()
        .issue(&claims, UnixTime(1_800_000_000))
        .unwrap();
    assert_eq!(code.len(), 173);
    assert_eq!(render::modules(&code).unwrap().0, 17 + 4 * 7);
}

#[test]
fn the_png_pixels_are_the_modules_with_a_quiet_zone() {
    let code = code();
    let (modules, dark) = render::modules(&code).unwrap();
    let scale = 3usize;
    let png_bytes = render::to_png(&code, scale as u32).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let quiet = QUIET_ZONE_MODULES as usize;
    let side = (modules + 2 * quiet) * scale;
    assert_eq!((info.width as usize, info.height as usize), (side, side));
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    for y in 0..side {
        for x in 0..side {
            let (mx, my) = (x / scale, y / scale);
            let inside =
                (quiet..quiet + modules).contains(&mx) && (quiet..quiet + modules).contains(&my);
            let expected_dark = inside && dark[(my - quiet) * modules + (mx - quiet)];
            let pixel = pixels[y * info.line_size + x];
            assert_eq!(pixel == 0, expected_dark, "pixel ({x}, {y})");
            assert!(pixel == 0 || pixel == 0xff);
        }
    }
}

#[test]
fn png_module_sizes_are_bounded() {
    for bad in [0, render::MAX_PNG_MODULE_PX + 1] {
        assert!(
            matches!(render::to_png(&code(), bad), Err(RenderError::ModuleSize(n)) if n == bad)
        );
    }
}

#[test]
fn the_terminal_drawing_uses_half_blocks_two_rows_a_line() {
    let code = code();
    let (modules, dark) = render::modules(&code).unwrap();
    let side = modules + 2 * QUIET_ZONE_MODULES as usize;
    for colours in [TerminalColours::LightOnDark, TerminalColours::DarkOnLight] {
        let text = render::to_terminal(&code, colours).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), side.div_ceil(2));
        assert!(lines.iter().all(|line| line.chars().count() == side));
        assert!(text
            .chars()
            .all(|c| matches!(c, ' ' | '\u{2580}' | '\u{2584}' | '\u{2588}' | '\n')));
        // Read the drawing back: every module of the symbol and its quiet zone is as drawn.
        let quiet = QUIET_ZONE_MODULES as usize;
        let is_dark = |x: usize, y: usize| {
            let inside =
                (quiet..quiet + modules).contains(&x) && (quiet..quiet + modules).contains(&y);
            inside && dark[(y - quiet) * modules + (x - quiet)]
        };
        for (line_number, line) in lines.iter().enumerate() {
            for (x, c) in line.chars().enumerate() {
                let (top_block, bottom_block) = match c {
                    ' ' => (false, false),
                    '\u{2580}' => (true, false),
                    '\u{2584}' => (false, true),
                    _ => (true, true),
                };
                let block_is_dark = colours == TerminalColours::DarkOnLight;
                let (top, bottom) = (2 * line_number, 2 * line_number + 1);
                assert_eq!(
                    top_block == block_is_dark,
                    is_dark(x, top),
                    "{colours:?} ({x}, {top})"
                );
                if bottom < side {
                    assert_eq!(
                        bottom_block == block_is_dark,
                        is_dark(x, bottom),
                        "{colours:?} ({x}, {bottom})"
                    );
                }
            }
        }
    }
}

#[test]
fn the_svg_is_one_document_with_a_dark_module_colour() {
    let svg = render::to_svg(&code(), 4).unwrap();
    assert!(svg.starts_with("<?xml"));
    assert!(svg.contains("<svg"));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("#000000"));
}

#[test]
fn text_too_long_for_any_qr_code_is_an_error() {
    let huge = "A".repeat(5000);
    assert!(matches!(
        render::to_png(&huge, 1),
        Err(RenderError::Encode(_))
    ));
}
