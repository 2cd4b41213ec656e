//! Keys in popups (help, the confirmation question, the palette) and in the one-line prompts
//! (filter, search): these take the keys before any view does.

use super::command::Command;
use super::keys;
use super::msg::Action;
use super::state::{AppState, Popup, Prompt, View};

/// What a key in a popup came to: done here, or an action for the router to do (one chosen in
/// the palette, or one a question was answered yes to).
pub enum Keyed {
    Done(Vec<Command>),
    Act(Action),
    Confirmed(Action),
}
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub fn on_popup_key(s: &mut AppState, p: Popup, k: KeyEvent) -> Keyed {
    match p {
        Popup::Help => {
            if matches!(
                k.code,
                KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter
            ) {
                s.popup = None;
            }
            Keyed::Done(vec![])
        }
        Popup::Confirm { action, .. } => match k.code {
            KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
                s.popup = None;
                Keyed::Confirmed(action)
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
                s.popup = None;
                Keyed::Done(vec![])
            }
            _ => Keyed::Done(vec![]),
        },
        Popup::Palette {
            mut query,
            mut selected,
        } => {
            let n = keys::palette_matches(&query).len();
            match k.code {
                KeyCode::Esc => {
                    s.popup = None;
                    return Keyed::Done(vec![]);
                }
                KeyCode::Enter => {
                    s.popup = None;
                    return match keys::palette_matches(&query).into_iter().nth(selected) {
                        Some((_, a)) => Keyed::Act(a),
                        None => Keyed::Done(vec![]),
                    };
                }
                KeyCode::Up => selected = selected.saturating_sub(1),
                KeyCode::Down => selected = (selected + 1).min(n.saturating_sub(1)),
                KeyCode::Backspace => {
                    query.pop();
                    selected = 0;
                }
                KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                    query.push(c);
                    selected = 0;
                }
                _ => {}
            }
            s.popup = Some(Popup::Palette { query, selected });
            Keyed::Done(vec![])
        }
    }
}

pub fn on_prompt_key(s: &mut AppState, p: Prompt, k: KeyEvent) -> Vec<Command> {
    let (mut text, is_search) = match p {
        Prompt::Filter(t) => (t, false),
        Prompt::Search(t) => (t, true),
        Prompt::Path { .. } => return vec![],
    };
    match k.code {
        KeyCode::Esc => {
            s.prompt = None;
            if !is_search {
                set_filter(s, String::new());
            }
            return vec![];
        }
        KeyCode::Enter => {
            s.prompt = None;
            if is_search {
                s.logs.search = (!text.is_empty()).then(|| text.clone());
                s.logs.hit = None;
                super::logs::search_step(s, false);
            }
            return super::datasets::after_prompt(s);
        }
        KeyCode::Backspace => {
            text.pop();
        }
        KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => text.push(c),
        _ => {}
    }
    if is_search {
        s.prompt = Some(Prompt::Search(text));
    } else {
        set_filter(s, text.clone());
        s.prompt = Some(Prompt::Filter(text));
    }
    vec![]
}

/// The filter typed into a view's prompt, given to that view.
pub fn set_filter(s: &mut AppState, text: String) {
    match s.view {
        View::Datasets => super::datasets::set_filter(s, text),
        View::Runs => super::runs::set_filter(s, text),
        View::Jobs => {
            s.jobs.filter = text;
            s.jobs.selected = 0;
        }
        View::Clusters => {
            s.clusters.filter = text;
            s.clusters.node = 0;
        }
        View::Logs => super::logs::set_filter(s, text),
        _ => {}
    }
}
