//! Text tables for people: columns aligned by display width, so Chinese text (two columns a
//! character) lines up with Latin text. Cells hold what cards and files say, so each is escaped
//! for the screen (`host_tools::screen`) before it is measured.

use host_tools::screen;
use unicode_width::UnicodeWidthStr;

/// Rows of cells, each column padded to its widest cell, `indent` before every row.
pub fn render(rows: &[Vec<String>], indent: &str) -> String {
    let rows: Vec<Vec<std::borrow::Cow<'_, str>>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| screen::escape(cell)).collect())
        .collect();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.width())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &rows {
        out.push_str(indent);
        for (c, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if c + 1 < row.len() {
                out.push_str(&" ".repeat(widths[c] - cell.width() + 2));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_cells_align_with_latin_ones() {
        let rows = vec![
            vec!["姓名".to_string(), "name".to_string(), "张测试".to_string()],
            vec![
                "卡号".to_string(),
                "card number".to_string(),
                "T0000001X".to_string(),
            ],
        ];
        let text = render(&rows, "  ");
        let lines: Vec<&str> = text.lines().collect();
        let value_column = |line: &str, value: &str| line[..line.find(value).unwrap()].width();
        assert_eq!(
            value_column(lines[0], "张测试"),
            value_column(lines[1], "T0000001X")
        );
    }
}
