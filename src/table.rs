//! The one table style for people: UTF-8 box drawing, condensed, wrapped
//! to the terminal, 160 columns when output is not a terminal (so files and
//! pipes get stable widths). Depends on nothing else in the crate.

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, ContentArrangement, Table};

/// A table with this header in estune's style.
pub fn new(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        t.set_width(160);
    }
    t
}

/// [`new`] with every column but the first aligned right (figures).
pub fn numeric(header: &[&str]) -> Table {
    let mut t = new(header);
    for i in 1..header.len() {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}
