//! The records of a user import file, read by the `csv` crate as RFC 4180 has them:
//! comma-separated fields, records ended by CRLF (or a bare LF or CR), fields in double
//! quotes may hold commas, line breaks and doubled quotes. Blank lines are not records;
//! a UTF-8 byte order mark is dropped. Records may have any number of fields: a row
//! that does not match the header fails on its own.
//!
//! The crate reads malformed quoting leniently (a quote inside an unquoted field is
//! kept, text after a closing quote is appended, a quote left open runs to the end of
//! the file). Such a file is refused instead, as before: each record's bytes must be
//! exactly its fields, each either bare (and without quotes) or quoted with its quotes
//! doubled, so a file whose fields were guessed at is never imported.

/// One record and the line of the file it starts on (1-based, counting the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRecord {
    pub line: u64,
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("the file is not UTF-8 text")]
    NotUtf8,
    #[error("line {0}: a quoted field is not closed")]
    UnclosedQuote(u64),
    #[error("line {0}: a quote inside an unquoted field, or text after a closing quote")]
    StrayQuote(u64),
}

pub fn parse(data: &[u8]) -> Result<Vec<CsvRecord>, CsvError> {
    let text = std::str::from_utf8(data).map_err(|_| CsvError::NotUtf8)?;
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = Vec::new();
    let mut record = ::csv::StringRecord::new();
    // Where the previous record ended, and the line there.
    let (mut offset, mut line) = (0usize, 1u64);
    loop {
        // Reading from memory, with records of any length, fails only on text that is
        // not UTF-8, which `text` is.
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(_) => return Err(CsvError::NotUtf8),
        }
        let end = usize::try_from(reader.position().byte()).unwrap_or(usize::MAX);
        let raw = text.get(offset..end).ok_or(CsvError::NotUtf8)?;
        // The reader drops a byte order mark at the very start.
        let raw = match offset {
            0 => raw.strip_prefix('\u{feff}').unwrap_or(raw),
            _ => raw,
        };
        let start_line = check_quoting(raw, &record, line, end == text.len())?;
        line += newlines(raw.as_bytes());
        offset = end;
        records.push(CsvRecord {
            line: start_line,
            fields: record.iter().map(str::to_owned).collect(),
        });
    }
    Ok(records)
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b == b'\n').count() as u64
}

/// How many bytes `a` and `b` start with in common.
fn common_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

/// Checks that `raw` (the record's bytes, with the blank lines before it and its line
/// break) is exactly `record` written out; the line the record starts on. `at_end`:
/// the record runs to the end of the file.
fn check_quoting(
    raw: &str,
    record: &::csv::StringRecord,
    line: u64,
    at_end: bool,
) -> Result<u64, CsvError> {
    let body = raw.trim_start_matches(['\r', '\n']);
    let start_line = line + newlines(&raw.as_bytes()[..raw.len() - body.len()]);
    // A stray quote `n` bytes into `rest`, on its line.
    let stray = |rest: &str, n: usize| {
        let at = body.len() - rest.len() + n;
        CsvError::StrayQuote(start_line + newlines(&body.as_bytes()[..at]))
    };
    let mut rest = body;
    for (i, field) in record.iter().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix(',').ok_or_else(|| stray(rest, 0))?;
        }
        if rest.starts_with('"') {
            let written = format!("\"{}\"", field.replace('"', "\"\""));
            if let Some(after) = rest.strip_prefix(written.as_str()) {
                rest = after;
                continue;
            }
            // The reader takes a quote left open to run to the end of the file.
            if at_end && written.strip_suffix('"') == Some(rest) {
                return Err(CsvError::UnclosedQuote(start_line));
            }
            return Err(stray(rest, common_prefix(rest, &written)));
        }
        match field.find('"') {
            None if rest.starts_with(field) => rest = &rest[field.len()..],
            quote => {
                let n = common_prefix(rest, field).min(quote.unwrap_or(usize::MAX));
                return Err(stray(rest, n));
            }
        }
    }
    match rest.find(|c| c != '\r' && c != '\n') {
        None => Ok(start_line),
        Some(n) => Err(stray(rest, n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(data: &str) -> Vec<Vec<String>> {
        parse(data.as_bytes())
            .unwrap()
            .into_iter()
            .map(|r| r.fields)
            .collect()
    }

    #[test]
    fn quoted_fields_hold_commas_quotes_and_line_breaks() {
        let rows = fields("a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n1,,3\n\n");
        assert_eq!(
            rows,
            vec![
                vec!["a", "b", "c"],
                vec!["x, y", "say \"hi\"", "two\nlines"],
                vec!["1", "", "3"],
            ]
        );
    }

    #[test]
    fn records_know_their_line() {
        let records = parse(b"h1,h2\n\"a\nb\",c\nd,e").unwrap();
        let lines: Vec<u64> = records.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![1, 2, 4]);
    }

    #[test]
    fn broken_quoting_is_an_error() {
        assert_eq!(parse(b"a,\"b\nc"), Err(CsvError::UnclosedQuote(1)));
        assert_eq!(parse(b"a,b\"c\n"), Err(CsvError::StrayQuote(1)));
        assert_eq!(parse(b"a,\"b\"c\n"), Err(CsvError::StrayQuote(1)));
    }

    #[test]
    fn a_byte_order_mark_and_a_missing_final_newline_are_fine() {
        assert_eq!(
            fields("\u{feff}a,b\n1,2"),
            vec![vec!["a", "b"], vec!["1", "2"]]
        );
        assert_eq!(fields("\"\""), vec![vec![""]]);
        assert_eq!(fields("\u{feff}"), Vec::<Vec<String>>::new());
        assert_eq!(fields(""), Vec::<Vec<String>>::new());
        // A mark anywhere else is text.
        assert_eq!(fields("a\n\u{feff}b"), vec![vec!["a"], vec!["\u{feff}b"]]);
    }

    #[test]
    fn blank_lines_are_skipped_and_lines_still_counted() {
        let records = parse(b"h1,h2\r\n\r\n\r\n\"a\r\nb\",c\r\n\n\nd,e\r\n\r\n").unwrap();
        let found: Vec<(u64, Vec<String>)> =
            records.into_iter().map(|r| (r.line, r.fields)).collect();
        assert_eq!(
            found,
            vec![
                (1, vec!["h1".to_owned(), "h2".to_owned()]),
                (4, vec!["a\r\nb".to_owned(), "c".to_owned()]),
                (8, vec!["d".to_owned(), "e".to_owned()]),
            ]
        );
    }

    #[test]
    fn rows_may_have_any_number_of_fields() {
        assert_eq!(
            fields("a,b,c\n1\n1,2,3,4\n,\n"),
            vec![
                vec!["a", "b", "c"],
                vec!["1"],
                vec!["1", "2", "3", "4"],
                vec!["", ""]
            ]
        );
    }

    #[test]
    fn malformed_files_are_errors_on_the_right_line() {
        assert_eq!(parse(b"a,b\n\xff,c\n"), Err(CsvError::NotUtf8));
        assert_eq!(parse(b"a,b\n\"c,d\n\"e"), Err(CsvError::StrayQuote(3)));
        assert_eq!(parse(b"a,b\n\n\"unclosed"), Err(CsvError::UnclosedQuote(3)));
        assert_eq!(parse(b"\""), Err(CsvError::UnclosedQuote(1)));
        assert_eq!(parse(b"a\n\"x\ny\"z,w\n"), Err(CsvError::StrayQuote(3)));
        assert_eq!(parse(b"a\nb,c\"\n"), Err(CsvError::StrayQuote(2)));
        assert_eq!(parse(b"a\n\"b\" ,c\n"), Err(CsvError::StrayQuote(2)));
        assert_eq!(parse(b"a\n\"b\"\"\n"), Err(CsvError::UnclosedQuote(2)));
        assert_eq!(parse(b"a\n\"b\"\"\"\"\n"), Err(CsvError::UnclosedQuote(2)));
        assert_eq!(parse(b"a\n\"b\"\"\"x\n"), Err(CsvError::StrayQuote(2)));
        assert_eq!(parse(b"a\n\"b\"\"\"\n").unwrap()[1].fields, vec!["b\""]);
    }

    #[test]
    fn huge_fields_and_many_columns_are_read() {
        let long = "x".repeat(1 << 20);
        let quoted = format!("\"{}\"", "\"\"".repeat(1 << 16));
        let wide = vec!["y"; 10_000].join(",");
        let data = format!("h\n{long},{quoted}\n{wide}\n");
        let records = parse(data.as_bytes()).unwrap();
        assert_eq!(records[1].fields[0].len(), 1 << 20);
        assert_eq!(records[1].fields[1], "\"".repeat(1 << 16));
        assert_eq!(records[2].fields.len(), 10_000);
    }

    #[test]
    fn no_input_makes_it_panic() {
        // Every short string over the bytes that matter to CSV.
        let alphabet: &[u8] = b"a,\"\r\n\xef\xbb\xbf";
        let mut inputs = vec![Vec::new()];
        for _ in 0..5 {
            inputs = inputs
                .iter()
                .flat_map(|input| {
                    alphabet.iter().map(move |b| {
                        let mut longer = input.clone();
                        longer.push(*b);
                        longer
                    })
                })
                .collect();
            for input in &inputs {
                let _ = parse(input);
            }
        }
    }
}
