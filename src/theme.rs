//! Themes: named roles with fallbacks. The embedded themes (themes/*.toml) are layered under a user
//! theme of the same name in the config dir (`~/.config/tandem/themes/NAME.toml`), key by key.

use ratatui::style::{Color, Modifier, Style};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub const EMBEDDED: &[(&str, &str)] = &[
    ("dark", include_str!("../themes/dark.toml")),
    ("light", include_str!("../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../themes/high-contrast.toml"),
    ),
];

/// Every role, and the role it falls back to when a theme leaves it out.
const ROLES: &[(&str, Option<&str>)] = &[
    ("bg", None),
    ("fg", None),
    ("muted", Some("fg")),
    ("accent", Some("fg")),
    ("border", Some("muted")),
    ("border_focus", Some("accent")),
    ("title", Some("fg")),
    ("header_bg", Some("bg")),
    ("header_fg", Some("fg")),
    ("selected_bg", Some("accent")),
    ("selected_fg", Some("bg")),
    ("ok", Some("fg")),
    ("warn", Some("fg")),
    ("error", Some("warn")),
    ("running", Some("accent")),
    ("pending", Some("muted")),
    ("highlight", Some("warn")),
    ("series1", Some("accent")),
    ("series2", Some("warn")),
    ("series3", Some("ok")),
    ("series4", Some("error")),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub bg: Color,
    pub fg: Color,
    pub muted: Color,
    pub accent: Color,
    pub border: Color,
    pub border_focus: Color,
    pub title: Color,
    pub header_bg: Color,
    pub header_fg: Color,
    pub selected_bg: Color,
    pub selected_fg: Color,
    pub ok: Color,
    pub warn: Color,
    pub error: Color,
    pub running: Color,
    pub pending: Color,
    pub highlight: Color,
    pub series: [Color; 4],
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTheme {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    roles: BTreeMap<String, toml::Spanned<String>>,
}

/// A theme file that could not be used, with where.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}:{line}:{col}: {msg}")]
pub struct ThemeError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub msg: String,
}

fn parse_roles(
    file: &str,
    src: &str,
) -> Result<(Option<String>, BTreeMap<String, Color>), ThemeError> {
    let at = |off: usize, msg: String| {
        let p = crate::project::pos_of(src, off);
        ThemeError {
            file: file.to_string(),
            line: p.line,
            col: p.col,
            msg,
        }
    };
    let raw: RawTheme = toml::from_str(src).map_err(|e| {
        at(
            e.span().map_or(0, |s| s.start),
            e.message().trim().to_string(),
        )
    })?;
    let mut out = BTreeMap::new();
    for (k, v) in raw.roles {
        if !ROLES.iter().any(|(r, _)| *r == k) {
            let names: Vec<_> = ROLES.iter().map(|(r, _)| *r).collect();
            return Err(at(
                v.span().start,
                format!("unknown role `{k}`, expected one of {}", names.join(", ")),
            ));
        }
        let c = Color::from_str(v.get_ref()).map_err(|_| {
            at(
                v.span().start,
                format!(
                    "`{}` is not a colour (use \"#rrggbb\" or a name like \"lightblue\")",
                    v.get_ref()
                ),
            )
        })?;
        out.insert(k, c);
    }
    Ok((raw.name, out))
}

fn resolve(name: &str, roles: &BTreeMap<String, Color>, base: Option<&Theme>) -> Theme {
    let get = |role: &str| -> Color {
        let mut r = role;
        loop {
            if let Some(c) = roles.get(r) {
                return *c;
            }
            match ROLES.iter().find(|(n, _)| *n == r).and_then(|(_, fb)| *fb) {
                Some(fb) => r = fb,
                None => break,
            }
        }
        base.map(|b| b.role(role)).unwrap_or(Color::Reset)
    };
    Theme {
        name: name.to_string(),
        bg: get("bg"),
        fg: get("fg"),
        muted: get("muted"),
        accent: get("accent"),
        border: get("border"),
        border_focus: get("border_focus"),
        title: get("title"),
        header_bg: get("header_bg"),
        header_fg: get("header_fg"),
        selected_bg: get("selected_bg"),
        selected_fg: get("selected_fg"),
        ok: get("ok"),
        warn: get("warn"),
        error: get("error"),
        running: get("running"),
        pending: get("pending"),
        highlight: get("highlight"),
        series: [
            get("series1"),
            get("series2"),
            get("series3"),
            get("series4"),
        ],
    }
}

impl Theme {
    fn role(&self, r: &str) -> Color {
        match r {
            "bg" => self.bg,
            "fg" => self.fg,
            "muted" => self.muted,
            "accent" => self.accent,
            "border" => self.border,
            "border_focus" => self.border_focus,
            "title" => self.title,
            "header_bg" => self.header_bg,
            "header_fg" => self.header_fg,
            "selected_bg" => self.selected_bg,
            "selected_fg" => self.selected_fg,
            "ok" => self.ok,
            "warn" => self.warn,
            "error" => self.error,
            "running" => self.running,
            "pending" => self.pending,
            "highlight" => self.highlight,
            "series1" => self.series[0],
            "series2" => self.series[1],
            "series3" => self.series[2],
            _ => self.series[3],
        }
    }

    /// The embedded theme `name` (dark when unknown).
    pub fn embedded(name: &str) -> Theme {
        let src = EMBEDDED
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(EMBEDDED[0].1, |(_, s)| s);
        let (_, roles) = parse_roles(name, src).expect("embedded themes are valid");
        let n = if EMBEDDED.iter().any(|(n, _)| *n == name) {
            name
        } else {
            "dark"
        };
        resolve(n, &roles, None)
    }

    /// Embedded `name`, overridden key by key by `dir/NAME.toml` when present. A broken user file
    /// gives the embedded theme and the error.
    pub fn load(name: &str, user_dir: Option<&Path>) -> (Theme, Option<ThemeError>) {
        let embedded_known = EMBEDDED.iter().any(|(n, _)| *n == name);
        let base = Theme::embedded(if embedded_known { name } else { "dark" });
        let Some(path) = user_dir.map(|d| d.join(format!("{name}.toml"))) else {
            return (base, None);
        };
        let Ok(src) = std::fs::read_to_string(&path) else {
            if embedded_known {
                return (base, None);
            }
            let e = ThemeError {
                file: path.display().to_string(),
                line: 0,
                col: 0,
                msg: format!("no theme named `{name}`"),
            };
            return (base, Some(e));
        };
        match parse_roles(&path.display().to_string(), &src) {
            Ok((_, roles)) => (resolve(name, &roles, Some(&base)), None),
            Err(e) => (base, Some(e)),
        }
    }

    pub fn user_dir() -> Option<PathBuf> {
        dirs::config_dir().map(|d| d.join("tandem").join("themes"))
    }

    pub fn base(&self) -> Style {
        Style::default().fg(self.fg).bg(self.bg)
    }
    pub fn muted(&self) -> Style {
        Style::default().fg(self.muted)
    }
    pub fn border(&self, focused: bool) -> Style {
        Style::default().fg(if focused {
            self.border_focus
        } else {
            self.border
        })
    }
    pub fn title(&self) -> Style {
        Style::default().fg(self.title).add_modifier(Modifier::BOLD)
    }
    pub fn selected(&self) -> Style {
        Style::default()
            .fg(self.selected_fg)
            .bg(self.selected_bg)
            .add_modifier(Modifier::BOLD)
    }
    pub fn header(&self) -> Style {
        Style::default().fg(self.header_fg).bg(self.header_bg)
    }
    pub fn state(&self, s: crate::pipeline::RunState) -> Style {
        use crate::pipeline::RunState::*;
        let c = match s {
            Succeeded => self.ok,
            Failed | Lost => self.error,
            Cancelled => self.warn,
            Running | Submitted => self.running,
            Pending => self.pending,
        };
        Style::default().fg(c).add_modifier(Modifier::BOLD)
    }
}

/// How many colours the terminal shows: 24-bit when it says so (`COLORTERM=truecolor`), else
/// the 256-colour palette.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorDepth {
    #[default]
    Palette256,
    TrueColor,
}

impl ColorDepth {
    pub fn from_env() -> ColorDepth {
        match std::env::var("COLORTERM").as_deref() {
            Ok("truecolor" | "24bit") => ColorDepth::TrueColor,
            _ => ColorDepth::Palette256,
        }
    }
}

impl Theme {
    /// A log line's own style (what the program asked for) on top of `base`: the colours that
    /// have a role in the theme take the theme's (red errors, green ok, yellow warnings, blue
    /// accents, black muted, white text), the others the terminal's palette; 24-bit colours are
    /// brought into the 256-colour palette where the terminal has no more.
    pub fn log_style(
        &self,
        depth: ColorDepth,
        base: Style,
        st: &crate::observe::ansi::Style,
    ) -> Style {
        use crate::observe::ansi::{self, Color as A};
        let colour = |c: A| -> Color {
            match c {
                A::Basic(n) => match n % 8 {
                    0 => self.muted,
                    1 => self.error,
                    2 => self.ok,
                    3 => self.warn,
                    4 => self.accent,
                    7 => self.fg,
                    _ => Color::Indexed(n),
                },
                A::Indexed(n) => Color::Indexed(n),
                A::Rgb(r, g, b) if depth == ColorDepth::TrueColor => Color::Rgb(r, g, b),
                A::Rgb(r, g, b) => Color::Indexed(palette_index(r, g, b)),
            }
        };
        let mut out = base;
        if let Some(c) = st.fg {
            out = out.fg(colour(c));
        }
        if let Some(c) = st.bg {
            out = out.bg(colour(c));
        }
        for (bit, m) in [
            (ansi::BOLD, Modifier::BOLD),
            (ansi::DIM, Modifier::DIM),
            (ansi::ITALIC, Modifier::ITALIC),
            (ansi::UNDERLINE, Modifier::UNDERLINED),
            (ansi::REVERSE, Modifier::REVERSED),
            (ansi::STRIKE, Modifier::CROSSED_OUT),
        ] {
            if st.attrs & bit != 0 {
                out = out.add_modifier(m);
            }
        }
        out
    }
}

/// The nearest colour of the 256-colour palette: a grey of its ramp where the channels are
/// close, else its 6x6x6 cube.
pub fn palette_index(r: u8, g: u8, b: u8) -> u8 {
    let spread = r.max(g).max(b) - r.min(g).min(b);
    if spread < 12 {
        let avg = (r as u16 + g as u16 + b as u16) / 3;
        return match avg {
            0..8 => 16,
            239.. => 231,
            _ => 232 + ((avg - 8) / 10).min(23) as u8,
        };
    }
    // the cube's levels are 0, 95, 135, 175, 215, 255
    let level = |v: u8| -> u8 {
        match v {
            0..48 => 0,
            48..115 => 1,
            _ => (v - 35) / 40,
        }
    };
    16 + 36 * level(r) + 6 * level(g) + level(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_themes_resolve_every_role() {
        for (n, _) in EMBEDDED {
            let t = Theme::embedded(n);
            assert_eq!(&t.name, n);
            assert_ne!(t.fg, t.selected_bg);
        }
    }

    #[test]
    fn user_theme_overrides_key_by_key_and_falls_back() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("dark.toml"),
            "[roles]\nok = \"#010203\"\naccent = \"red\"\n",
        )
        .unwrap();
        let (t, e) = Theme::load("dark", Some(d.path()));
        assert!(e.is_none());
        assert_eq!(t.ok, Color::Rgb(1, 2, 3));
        assert_eq!(t.accent, Color::Red);
        assert_eq!(t.fg, Theme::embedded("dark").fg);
    }

    #[test]
    fn broken_user_theme_says_where() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("dark.toml"),
            "[roles]\nok = \"#010203\"\nfg = \"notacolour\"\n",
        )
        .unwrap();
        let (t, e) = Theme::load("dark", Some(d.path()));
        let e = e.unwrap();
        assert_eq!((e.line, e.col), (3, 6));
        assert_eq!(t, Theme::embedded("dark"));
    }

    #[test]
    fn log_colours_take_the_theme_and_fit_the_terminal() {
        use crate::observe::ansi::{Color as A, Style as S, BOLD};
        let t = Theme::embedded("dark");
        let red = S {
            fg: Some(A::Basic(1)),
            bg: None,
            attrs: BOLD,
        };
        let st = t.log_style(ColorDepth::Palette256, Style::default(), &red);
        assert_eq!(st.fg, Some(t.error));
        assert!(st.add_modifier.contains(Modifier::BOLD));
        let rgb = S {
            fg: Some(A::Rgb(255, 135, 0)),
            ..S::default()
        };
        assert_eq!(
            t.log_style(ColorDepth::Palette256, Style::default(), &rgb)
                .fg,
            Some(Color::Indexed(208))
        );
        assert_eq!(
            t.log_style(ColorDepth::TrueColor, Style::default(), &rgb)
                .fg,
            Some(Color::Rgb(255, 135, 0))
        );
        assert_eq!(palette_index(0, 0, 0), 16);
        assert_eq!(palette_index(255, 255, 255), 231);
        assert_eq!(palette_index(128, 128, 128), 244);
        assert_eq!(palette_index(0, 0, 255), 21);
    }
}
