//! User 2D points as CSV text: a forgiving parser with line-numbered errors, and the writer.

use std::fmt::Write as _;

use super::error::DataError;

/// Most points accepted from a user (CSV or drawn): far more than a 2D picture needs, few enough
/// for the page to hold and redraw.
pub const MAX_POINTS: usize = 100_000;

/// Longest excerpt of a bad line quoted in an error, in characters.
const QUOTE_CHARS: usize = 60;

/// Parses one point per line.
///
/// Accepted: `x,y`, `x;y` and `x y` (any run of spaces or tabs); spaces around fields; a UTF-8
/// byte-order mark; LF, CRLF or CR line ends; blank lines anywhere; fields in double quotes; with
/// `;` as separator a decimal comma (`1,5;2,5`), as spreadsheets in many locales write it.
/// The first non-blank line may be a header: it is skipped if one of its fields is not a number
/// and it contains a letter (`x,y`, `lon;lat`). Refused, with the line number and what was found:
/// a line that is not exactly two numbers, `nan` or `inf` (or a number beyond f64), more than
/// [`MAX_POINTS`] points, and text with no points at all.
pub fn parse_points_csv(text: &str) -> Result<Vec<[f64; 2]>, DataError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Classic Mac files end lines with a lone CR; `lines()` only splits on LF (and strips CR).
    let lines: Vec<&str> = if text.contains('\r') && !text.contains('\n') {
        text.split('\r').collect()
    } else {
        text.lines().collect()
    };
    let mut points = Vec::new();
    let mut seen_line = false;
    let mut had_header = false;
    for (index, raw) in lines.iter().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let first = !seen_line;
        seen_line = true;
        let fields = split_fields(line);
        let numbers: Vec<Option<f64>> = fields.iter().map(|f| f.parse::<f64>().ok()).collect();
        if numbers.iter().any(Option::is_none) {
            if first && line.chars().any(char::is_alphabetic) {
                had_header = true;
                continue;
            }
            return Err(bad_row(line_no, line));
        }
        let (x, y) = match numbers.as_slice() {
            [Some(x), Some(y)] => (*x, *y),
            _ => return Err(bad_row(line_no, line)),
        };
        for (value, field) in [(x, &fields[0]), (y, &fields[1])] {
            if !value.is_finite() {
                return Err(DataError::CsvNonFinite {
                    line: line_no,
                    found: quote(field),
                });
            }
        }
        if points.len() == MAX_POINTS {
            return Err(DataError::CsvTooManyPoints {
                line: line_no,
                max: MAX_POINTS,
            });
        }
        points.push([x, y]);
    }
    if points.is_empty() {
        return Err(if had_header {
            DataError::CsvNoPoints
        } else {
            DataError::CsvEmpty
        });
    }
    Ok(points)
}

/// Writes points as CSV with the header `x,y`, one point per line, each number in the shortest
/// form that reads back to the same f64 (so [`parse_points_csv`] returns exactly `points`, as
/// long as they are finite).
pub fn points_to_csv(points: &[[f64; 2]]) -> String {
    let mut out = String::with_capacity(4 + points.len() * 24);
    out.push_str("x,y\n");
    for [x, y] in points {
        // `{:?}` is Rust's shortest round-trip form, with an exponent for very large or small
        // values where `{}` would write hundreds of digits. Writing to a String cannot fail.
        let _ = writeln!(out, "{x:?},{y:?}");
    }
    out
}

/// The fields of a non-blank, trimmed line, each trimmed and unquoted.
fn split_fields(line: &str) -> Vec<String> {
    let unquote = |f: &str| {
        let f = f.trim();
        f.strip_prefix('"')
            .and_then(|g| g.strip_suffix('"'))
            .unwrap_or(f)
            .trim()
            .to_string()
    };
    if line.contains(';') {
        line.split(';')
            .map(|f| unquote(f).replace(',', "."))
            .collect()
    } else if line.contains(',') {
        line.split(',').map(unquote).collect()
    } else {
        line.split_whitespace().map(unquote).collect()
    }
}

fn bad_row(line: usize, text: &str) -> DataError {
    DataError::CsvRow {
        line,
        found: quote(text),
    }
}

/// Shortens what is quoted back to the user so that a pasted megabyte line stays readable.
fn quote(text: &str) -> String {
    if text.chars().count() <= QUOTE_CHARS {
        text.to_string()
    } else {
        let head: String = text.chars().take(QUOTE_CHARS).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_needs_a_letter() {
        assert_eq!(parse_points_csv("x,y\n1,2").unwrap(), vec![[1.0, 2.0]]);
        let err = parse_points_csv("1,,2\n3,4").unwrap_err();
        assert_eq!(
            err,
            DataError::CsvRow {
                line: 1,
                found: "1,,2".into()
            }
        );
    }

    #[test]
    fn long_lines_are_shortened_in_messages() {
        let line = "a".repeat(500);
        let err = parse_points_csv(&format!("1,2\n{line}")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("line 2: expected two numbers"), "{msg}");
        assert!(msg.len() < 200, "{msg}");
        assert!(msg.contains('…'), "{msg}");
    }

    #[test]
    fn quoted_fields_and_decimal_commas() {
        assert_eq!(
            parse_points_csv("\"x\",\"y\"\n\"1.5\",\"-2\"").unwrap(),
            vec![[1.5, -2.0]]
        );
        assert_eq!(
            parse_points_csv("x;y\n1,5;-2,25\n3;4").unwrap(),
            vec![[1.5, -2.25], [3.0, 4.0]]
        );
    }
}
