//! How a CSV file is read, for the Datasets preview and the plot readers alike: its delimiter
//! (`,` `;` tab `|`) and quote character sniffed from its head, a UTF-8 byte order mark skipped,
//! bytes that are not UTF-8 shown as replacement characters, quoted newlines kept in their cell.

/// The dialect of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    pub delimiter: u8,
    pub quote: u8,
}

impl Default for Dialect {
    fn default() -> Self {
        Dialect {
            delimiter: b',',
            quote: b'"',
        }
    }
}

const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];
/// How much of the head the sniffer looks at.
const SNIFF: usize = 64 * 1024;
const SNIFF_ROWS: usize = 50;

/// `bytes` without a UTF-8 byte order mark.
pub fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
}

impl Dialect {
    /// The delimiter and quote that read `head` (BOM skipped) into the most rows of one width
    /// wider than one column: each candidate delimiter's rows are counted by width, and the one
    /// whose most common width (of two or more columns) covers the most rows wins; a tie goes to
    /// the wider, then to the order `,` `;` tab `|`. Without any such row: `,`.
    pub fn sniff(head: &[u8]) -> Dialect {
        let head = without_bom(head);
        let head = &head[..head.len().min(SNIFF)];
        let quote = if head.contains(&b'"') || !head.contains(&b'\'') {
            b'"'
        } else {
            b'\''
        };
        let mut best: Option<(usize, usize, u8)> = None;
        for d in DELIMITERS {
            if !head.contains(&d) {
                continue;
            }
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .delimiter(d)
                .quote(quote)
                .from_reader(head);
            let mut widths: std::collections::HashMap<usize, usize> = Default::default();
            for rec in rdr.byte_records().take(SNIFF_ROWS) {
                let Ok(rec) = rec else { break };
                if rec.len() > 1 {
                    *widths.entry(rec.len()).or_default() += 1;
                }
            }
            let Some((width, rows)) = widths.into_iter().max_by_key(|(w, n)| (*n, *w)) else {
                continue;
            };
            if best.is_none_or(|(r, w, _)| (rows, width) > (r, w)) {
                best = Some((rows, width, d));
            }
        }
        Dialect {
            delimiter: best.map_or(b',', |b| b.2),
            quote,
        }
    }

    /// A reader of `bytes` (BOM skipped) in this dialect, every row as it is (no header taken,
    /// rows of any width).
    pub fn reader<'a>(&self, bytes: &'a [u8]) -> csv::Reader<&'a [u8]> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(self.delimiter)
            .quote(self.quote)
            .from_reader(without_bom(bytes))
    }

    /// How the delimiter is named on screen.
    pub fn name(&self) -> &'static str {
        match self.delimiter {
            b';' => "semicolon",
            b'\t' => "tab",
            b'|' => "pipe",
            _ => "comma",
        }
    }
}

/// A record's cells as text: bytes that are not UTF-8 become replacement characters.
pub fn cells(rec: &csv::ByteRecord) -> impl Iterator<Item = std::borrow::Cow<'_, str>> {
    rec.iter().map(String::from_utf8_lossy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(b: &[u8]) -> (Dialect, Vec<Vec<String>>) {
        let d = Dialect::sniff(b);
        let mut r = d.reader(b);
        let rows = r
            .byte_records()
            .map(|x| cells(&x.unwrap()).map(|c| c.into_owned()).collect())
            .collect();
        (d, rows)
    }

    #[test]
    fn the_delimiter_and_quote_are_sniffed() {
        let (d, r) = rows(b"a;b;c\n1,5;2;3\n4;5,25;6\n");
        assert_eq!(d.delimiter, b';');
        assert_eq!(r[1], ["1,5", "2", "3"]);
        assert_eq!(rows(b"x\ty\n1\t2\n").0.delimiter, b'\t');
        assert_eq!(rows(b"x|y|z\n1|2|3\n").0.delimiter, b'|');
        assert_eq!(rows(b"x,y\n1,2\n").0, Dialect::default());
        let (d, r) = rows(b"name,note\n'a, b',x\n");
        assert_eq!((d.delimiter, d.quote), (b',', b'\''));
        assert_eq!(r[1], ["a, b", "x"]);
        // one column: nothing to tell apart
        assert_eq!(rows(b"value\n1\n2\n").0, Dialect::default());
    }

    #[test]
    fn a_bom_is_skipped_bad_bytes_replaced_quoted_newlines_kept() {
        let (_, r) = rows(b"\xef\xbb\xbfid;name\n1;\"two\nlines\"\n2;M\xfcller\n");
        assert_eq!(r[0], ["id", "name"]);
        assert_eq!(r[1], ["1", "two\nlines"]);
        assert_eq!(r[2], ["2", "M\u{fffd}ller"]);
    }
}
