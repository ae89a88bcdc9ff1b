//! A CSV reader for user import files, as RFC 4180 has it: comma-separated fields,
//! records ended by CRLF (or a bare LF), fields in double quotes may hold commas, line
//! breaks and doubled quotes. Blank lines are not records.

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
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut line = 1u64;
    let mut start_line = 1u64;
    // Whether the current field was quoted, and whether we are inside its quotes.
    let (mut quoted, mut in_quotes) = (false, false);
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !quoted => (quoted, in_quotes) = (true, true),
            '"' => return Err(CsvError::StrayQuote(line)),
            ',' => {
                fields.push(std::mem::take(&mut field));
                quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                end_record(&mut records, &mut fields, &mut field, quoted, start_line);
                quoted = false;
                line += 1;
                start_line = line;
            }
            _ if quoted => return Err(CsvError::StrayQuote(line)),
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(CsvError::UnclosedQuote(start_line));
    }
    end_record(&mut records, &mut fields, &mut field, quoted, start_line);
    Ok(records)
}

fn end_record(
    records: &mut Vec<CsvRecord>,
    fields: &mut Vec<String>,
    field: &mut String,
    quoted: bool,
    line: u64,
) {
    let blank = fields.is_empty() && field.is_empty() && !quoted;
    fields.push(std::mem::take(field));
    let fields = std::mem::take(fields);
    if !blank {
        records.push(CsvRecord { line, fields });
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
    }
}
