//! Colour maps as a few anchor colours with linear interpolation between them.

/// (r, g, b) anchors, evenly spaced over [0, 1].
fn anchors(name: &str) -> &'static [(u8, u8, u8)] {
    match name {
        "viridis" => &[
            (68, 1, 84),
            (72, 40, 120),
            (62, 74, 137),
            (49, 104, 142),
            (38, 130, 142),
            (31, 158, 137),
            (53, 183, 121),
            (110, 206, 88),
            (181, 222, 43),
            (253, 231, 37),
        ],
        "magma" => &[
            (0, 0, 4),
            (28, 16, 68),
            (79, 18, 123),
            (129, 37, 129),
            (181, 54, 122),
            (229, 80, 100),
            (251, 135, 97),
            (254, 194, 135),
            (252, 253, 191),
        ],
        "coolwarm" => &[
            (59, 76, 192),
            (98, 130, 234),
            (141, 176, 254),
            (184, 208, 249),
            (221, 221, 221),
            (245, 196, 173),
            (244, 154, 123),
            (222, 96, 77),
            (180, 4, 38),
        ],
        "gray" => &[(0, 0, 0), (255, 255, 255)],
        _ => &[
            (0, 0, 4),
            (31, 12, 72),
            (85, 15, 109),
            (136, 34, 106),
            (186, 54, 85),
            (227, 89, 51),
            (249, 140, 10),
            (249, 201, 50),
            (252, 255, 164),
        ], // inferno
    }
}

/// How many colours a map has: 256, as matplotlib's maps do. Values that differ by less than a
/// step get the same colour, so a snapshot that changed a little repaints only what changed
/// (each cell repainted costs ~40 bytes on the terminal link).
pub const LEVELS: f64 = 256.0;

/// Colour of `t` in [0, 1] (clamped) in colour map `name` (inferno when unknown), one of
/// [`LEVELS`].
pub fn color(name: &str, t: f64) -> (u8, u8, u8) {
    let a = anchors(name);
    let t = if t.is_finite() {
        (t.clamp(0.0, 1.0) * (LEVELS - 1.0)).round() / (LEVELS - 1.0)
    } else {
        0.0
    };
    let x = t * (a.len() - 1) as f64;
    let i = (x.floor() as usize).min(a.len() - 2);
    let f = x - i as f64;
    let lerp = |p: u8, q: u8| (f64::from(p) + (f64::from(q) - f64::from(p)) * f).round() as u8;
    let (p, q) = (a[i], a[i + 1]);
    (lerp(p.0, q.0), lerp(p.1, q.1), lerp(p.2, q.2))
}

/// The colour NaN/inf cells get: distinct from every map.
pub const NAN_COLOR: (u8, u8, u8) = (0, 200, 200);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_and_clamping() {
        assert_eq!(color("gray", 0.0), (0, 0, 0));
        assert_eq!(color("gray", 1.0), (255, 255, 255));
        assert_eq!(color("gray", 2.0), (255, 255, 255));
        assert_eq!(color("gray", 0.5), (128, 128, 128));
        assert_eq!(color("viridis", 0.0), (68, 1, 84));
    }
}
