//! The status line's message: what every screen says after acting.

use super::state::{AppState, Level, Status};

pub fn set_status(s: &mut AppState, level: Level, text: String) {
    s.status = Some(Status {
        text,
        level,
        at: s.now,
    });
}

/// On each tick: an info message fades after six seconds (warnings and errors stay).
pub fn on_tick(s: &mut AppState) {
    if s.status
        .as_ref()
        .is_some_and(|st| st.level == Level::Info && (s.now - st.at).num_seconds() >= 6)
    {
        s.status = None;
    }
}

/// The status line's note of what watching costs, when it costs anything.
pub fn cost_note(s: &AppState) -> Option<String> {
    let r = &s.aws_rate;
    (r.calls_per_min > 0).then(|| {
        format!(
            "AWS {} calls/min · ~${:.2}/month",
            r.calls_per_min, r.usd_per_month
        )
    })
}
