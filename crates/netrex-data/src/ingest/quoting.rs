//! CSV quoting (RFC 4180), checked before polars reads a file: its reader panics on some
//! violations instead of failing.

/// The first violation of CSV quoting (RFC 4180) in `text`, as `(1-based line, what)`: a
/// quote may open a field only at its start, a quoted field must close, and after its closing
/// quote comes a separator or the end of the line (a doubled quote is a literal quote).
/// polars' reader panics on some of these instead of failing, so they are caught here first.
pub(crate) fn quoting_error(
    text: &[u8],
    separator: u8,
    quote: u8,
) -> Option<(usize, &'static str)> {
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        AfterQuote,
    }
    let (mut line, mut opened_at, mut state) = (1usize, 1usize, State::FieldStart);
    for &b in text {
        state =
            match state {
                State::FieldStart | State::Unquoted if b == b'\n' => State::FieldStart,
                State::FieldStart | State::Unquoted if b == separator => State::FieldStart,
                State::FieldStart if b == quote => {
                    opened_at = line;
                    State::Quoted
                }
                State::Unquoted if b == quote => return Some((
                    line,
                    "a quote inside an unquoted field (quote the whole field and double the quote)",
                )),
                State::FieldStart | State::Unquoted => State::Unquoted,
                State::Quoted if b == quote => State::AfterQuote,
                State::Quoted => State::Quoted,
                State::AfterQuote if b == quote => State::Quoted,
                State::AfterQuote if b == separator || b == b'\n' => State::FieldStart,
                State::AfterQuote if b == b'\r' => State::AfterQuote,
                State::AfterQuote => {
                    return Some((line, "text after the closing quote of a field"));
                }
            };
        if b == b'\n' {
            line += 1;
        }
    }
    matches!(state, State::Quoted)
        .then_some((opened_at, "a quoted field opens here and is never closed"))
}

#[cfg(test)]
mod quote_tests {
    use super::quoting_error;

    fn line(text: &[u8]) -> Option<usize> {
        quoting_error(text, b',', b'"').map(|(line, _)| line)
    }

    #[test]
    fn finds_bad_quoting_and_accepts_good() {
        assert_eq!(line(b"a,b\n1,\""), Some(2));
        assert_eq!(line(b"a,b\n\"x\ny\",2\n3,\"z"), Some(4));
        assert_eq!(line(b"a,b\n\"x,\"\"y\",2\r\n\"\",3\n"), None);
        // found by fuzzing: polars panicked on these
        assert_eq!(line(b"a,b\n0,\"\"g,1\n"), Some(2));
        assert_eq!(line(b"a,b\n1,2\nx\"y,2\n"), Some(3));
    }
}
