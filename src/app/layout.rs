//! Screen geometry that state changes depend on (how many rows a list pages by, the area a plot is
//! made for) and moving a selection in a list. The views draw with the same numbers.

use super::msg::Action;
use super::state::AppState;

/// Lines the log view has room for.
pub fn log_rows(s: &AppState) -> usize {
    (s.size.1 as usize).saturating_sub(6).max(1)
}

/// Rows a list view shows (a page).
pub fn list_rows(s: &AppState) -> usize {
    (s.size.1 as usize).saturating_sub(7).max(1)
}

/// The cells of the Plots view's map area at terminal size `size` (what an image is made for):
/// the body less the header, tabs, footer, plot tabs and borders, and the colour bar.
pub fn plot_cells(size: (u16, u16)) -> (u16, u16) {
    (
        size.0.saturating_sub(2 + 12).max(1),
        size.1.saturating_sub(3 + 1 + 2).max(1),
    )
}

/// The width in braille dots of a line chart drawn in a body `body_width` columns wide.
pub fn chart_width(body_width: u16) -> usize {
    (body_width as usize).saturating_sub(12).max(10) * 2
}

/// Move a selection in a list of `len` rows by what `a` asks (a page is `page` rows).
pub fn move_sel(sel: &mut usize, len: usize, a: &Action, page: usize) {
    if len == 0 {
        *sel = 0;
        return;
    }
    *sel = match a {
        Action::Up => sel.saturating_sub(1),
        Action::Down => (*sel + 1).min(len - 1),
        Action::PageUp => sel.saturating_sub(page),
        Action::PageDown => (*sel + page).min(len - 1),
        Action::Top => 0,
        Action::Bottom => len - 1,
        _ => *sel,
    }
    .min(len - 1);
}
