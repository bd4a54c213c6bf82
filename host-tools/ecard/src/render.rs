//! Drawing a code as a QR symbol: for a terminal, as SVG and as PNG.
//!
//! Codes are pure QR alphanumeric text, encoded at error correction level M (15 % of the symbol
//! may be lost), with the standard quiet zone of 4 modules.

use qrcode::render::{svg, unicode};
use qrcode::{Color, EcLevel, QrCode};

/// The quiet zone around the symbol, in modules (ISO/IEC 18004).
pub const QUIET_ZONE_MODULES: u32 = 4;
/// Largest PNG module size accepted, in pixels.
pub const MAX_PNG_MODULE_PX: u32 = 32;

/// Why a code could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the text does not fit in a QR code")]
    Encode(#[source] qrcode::types::QrError),
    #[error("a PNG module is 1 to {MAX_PNG_MODULE_PX} pixels, not {0}")]
    ModuleSize(u32),
    #[error("the PNG could not be written")]
    Png(#[source] png::EncodingError),
}

/// Which way round a terminal shows the symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TerminalColours {
    /// Light text on a dark background, the usual terminal: light modules are drawn as blocks.
    #[default]
    LightOnDark,
    /// Dark text on a light background: dark modules are drawn as blocks.
    DarkOnLight,
}

fn symbol(code: &str) -> Result<QrCode, RenderError> {
    QrCode::with_error_correction_level(code.as_bytes(), EcLevel::M).map_err(RenderError::Encode)
}

/// The symbol in Unicode half blocks, two module rows per text line.
pub fn to_terminal(code: &str, colours: TerminalColours) -> Result<String, RenderError> {
    let qr = symbol(code)?;
    let (block, blank) = match colours {
        TerminalColours::LightOnDark => (unicode::Dense1x2::Light, unicode::Dense1x2::Dark),
        TerminalColours::DarkOnLight => (unicode::Dense1x2::Dark, unicode::Dense1x2::Light),
    };
    Ok(qr
        .render::<unicode::Dense1x2>()
        .dark_color(block)
        .light_color(blank)
        .quiet_zone(true)
        .build())
}

/// The symbol as an SVG document, `module_px` user units per module.
pub fn to_svg(code: &str, module_px: u32) -> Result<String, RenderError> {
    let qr = symbol(code)?;
    Ok(qr
        .render::<svg::Color<'_>>()
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .module_dimensions(module_px, module_px)
        .quiet_zone(true)
        .build())
}

/// The symbol as a black-and-white PNG (8-bit grey), `module_px` pixels per module.
pub fn to_png(code: &str, module_px: u32) -> Result<Vec<u8>, RenderError> {
    if !(1..=MAX_PNG_MODULE_PX).contains(&module_px) {
        return Err(RenderError::ModuleSize(module_px));
    }
    let qr = symbol(code)?;
    let modules = qr.width();
    let colours = qr.to_colors();
    let quiet = QUIET_ZONE_MODULES as usize;
    let scale = module_px as usize;
    let side = (modules + 2 * quiet) * scale;
    let mut pixels = vec![0xffu8; side * side];
    for (row, line) in pixels.chunks_exact_mut(side).enumerate() {
        let y = row / scale;
        for (column, pixel) in line.iter_mut().enumerate() {
            let x = column / scale;
            let inside =
                (quiet..quiet + modules).contains(&x) && (quiet..quiet + modules).contains(&y);
            if inside && colours.get((y - quiet) * modules + (x - quiet)) == Some(&Color::Dark) {
                *pixel = 0;
            }
        }
    }
    let side_px = u32::try_from(side).map_err(|_| RenderError::ModuleSize(module_px))?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side_px, side_px);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(RenderError::Png)?;
    writer.write_image_data(&pixels).map_err(RenderError::Png)?;
    writer.finish().map_err(RenderError::Png)?;
    Ok(out)
}

/// The modules of the symbol, row by row, `true` for dark; for tests and other renderers.
pub fn modules(code: &str) -> Result<(usize, Vec<bool>), RenderError> {
    let qr = symbol(code)?;
    Ok((
        qr.width(),
        qr.to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect(),
    ))
}
