//! A list to pick from, shared by the browsers that open over a view (CloudWatch log groups and
//! streams in Logs, CloudWatch metrics in Metrics): typed text narrows it, ↑↓ PgUp PgDn move,
//! Space marks (when marking makes sense), Enter or → takes the selected row, Esc clears the
//! typed text and then goes back, ← goes back.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::BTreeSet;

/// One row: its name (unique in the list; what marks and Enter give) and a detail shown at the
/// right edge.
pub type Row = (String, String);

#[derive(Debug, Clone, Default)]
pub struct PickList {
    pub items: Vec<Row>,
    pub marked: BTreeSet<String>,
    /// Index into `rows()`.
    pub selected: usize,
    /// Typed text: rows whose name or detail holds it (case-insensitive).
    pub filter: String,
    pub loading: bool,
    pub error: Option<String>,
    /// Space marks rows.
    pub markable: bool,
}

/// What a key did to the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// Moved, typed or marked: nothing for the owner to do.
    Stay,
    /// Enter or → on this row.
    Take(String),
    /// Esc (with nothing typed) or ←.
    Back,
    /// Not a key for the list (`?`).
    Pass,
}

impl PickList {
    /// A list waiting for its rows.
    pub fn loading(markable: bool) -> PickList {
        PickList {
            loading: true,
            markable,
            ..Default::default()
        }
    }

    /// The rows shown, after the typed filter.
    pub fn rows(&self) -> Vec<&Row> {
        let f = self.filter.to_lowercase();
        self.items
            .iter()
            .filter(|(n, d)| {
                f.is_empty() || n.to_lowercase().contains(&f) || d.to_lowercase().contains(&f)
            })
            .collect()
    }

    /// Rows arrived (or an error, sanitised: it may quote what a server sent).
    pub fn set(&mut self, r: Result<Vec<Row>, String>) {
        self.loading = false;
        match r {
            Ok(v) => {
                self.items = v;
                self.error = None;
                self.selected = self.selected.min(self.items.len().saturating_sub(1));
            }
            Err(e) => self.error = Some(crate::observe::sanitize(&e).into_owned()),
        }
    }

    pub fn key(&mut self, k: KeyEvent) -> Pick {
        let n = self.rows().len();
        let last = n.saturating_sub(1);
        match k.code {
            KeyCode::Char('?') => return Pick::Pass,
            KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down => self.selected = (self.selected + 1).min(last),
            KeyCode::PageUp => self.selected = self.selected.saturating_sub(10),
            KeyCode::PageDown => self.selected = (self.selected + 10).min(last),
            KeyCode::Home => self.selected = 0,
            KeyCode::End => self.selected = last,
            KeyCode::Esc if !self.filter.is_empty() => {
                self.filter.clear();
                self.selected = 0;
            }
            KeyCode::Esc | KeyCode::Left => return Pick::Back,
            KeyCode::Backspace => {
                self.filter.pop();
                self.selected = 0;
            }
            KeyCode::Char(' ') if self.markable => {
                if let Some(name) = self.rows().get(self.selected).map(|r| r.0.clone()) {
                    if !self.marked.remove(&name) {
                        self.marked.insert(name);
                    }
                    self.selected = (self.selected + 1).min(last);
                }
            }
            KeyCode::Enter | KeyCode::Right => {
                if let Some((name, _)) = self.rows().get(self.selected) {
                    return Pick::Take(name.clone());
                }
            }
            KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                self.filter.push(c);
                self.selected = 0;
            }
            _ => {}
        }
        Pick::Stay
    }

    /// The marked rows in list order, or none.
    pub fn marked_rows(&self) -> Vec<String> {
        self.items
            .iter()
            .filter(|(n, _)| self.marked.contains(n))
            .map(|(n, _)| n.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn narrows_marks_takes_and_goes_back() {
        let mut l = PickList::loading(true);
        l.set(Ok(vec![
            ("alpha".into(), "1 KiB".into()),
            ("beta".into(), "CPU".into()),
            ("gamma".into(), "cpu".into()),
        ]));
        assert!(!l.loading);
        assert_eq!(l.key(k(KeyCode::Char('c'))), Pick::Stay);
        assert_eq!(l.rows().len(), 2, "the detail counts, any case");
        assert_eq!(l.key(k(KeyCode::Char(' '))), Pick::Stay);
        assert_eq!(l.marked_rows(), ["beta"]);
        assert_eq!(l.key(k(KeyCode::Enter)), Pick::Take("gamma".into()));
        assert_eq!(
            l.key(k(KeyCode::Esc)),
            Pick::Stay,
            "first Esc clears the text"
        );
        assert_eq!(l.rows().len(), 3);
        assert_eq!(l.key(k(KeyCode::Esc)), Pick::Back);
        assert_eq!(l.key(k(KeyCode::Char('?'))), Pick::Pass);
        l.set(Err("no \u{1b}[2J".into()));
        assert_eq!(l.error.as_deref(), Some("no \\e[2J"));
    }
}
