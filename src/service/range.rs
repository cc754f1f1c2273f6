//! The `Range` header of a file download (RFC 9110 §14), for the one case
//! a media player needs: a single byte range. Several ranges, another
//! unit, or a header that does not parse are answered with the whole file
//! (the RFC allows ignoring a Range); only a well-formed range that lies
//! past the end is unsatisfiable (416).

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    Whole,
    /// Bytes `from..to` (end exclusive).
    Part {
        from: u64,
        to: u64,
    },
    Unsatisfiable,
}

/// Reads `header` against a file of `len` bytes.
pub fn byte_range(header: Option<&str>, len: u64) -> ByteRange {
    let Some(h) = header.map(str::trim) else {
        return ByteRange::Whole;
    };
    let Some(spec) = h.strip_prefix("bytes=") else {
        return ByteRange::Whole;
    };
    if spec.contains(',') {
        return ByteRange::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return ByteRange::Whole;
    };
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        // More digits than a u64 holds: past any end.
        Some(s.parse::<u64>().unwrap_or(u64::MAX))
    };
    match (a.trim().is_empty(), num(a), num(b)) {
        // bytes=-n: the last n bytes.
        (true, _, Some(n)) => {
            if n == 0 || len == 0 {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Part {
                    from: len - n.min(len),
                    to: len,
                }
            }
        }
        (false, Some(from), None) if b.trim().is_empty() => {
            if from >= len {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Part { from, to: len }
            }
        }
        (false, Some(from), Some(last)) if last >= from => {
            if from >= len {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Part {
                    from,
                    to: last.saturating_add(1).min(len),
                }
            }
        }
        _ => ByteRange::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_players_send_them() {
        let p = |from, to| ByteRange::Part { from, to };
        assert_eq!(byte_range(None, 100), ByteRange::Whole);
        assert_eq!(byte_range(Some("bytes=0-"), 100), p(0, 100));
        assert_eq!(byte_range(Some("bytes=10-19"), 100), p(10, 20));
        assert_eq!(byte_range(Some("bytes=90-1000"), 100), p(90, 100));
        assert_eq!(byte_range(Some("bytes=-10"), 100), p(90, 100));
        assert_eq!(byte_range(Some("bytes=-1000"), 100), p(0, 100));
        assert_eq!(byte_range(Some("bytes=99-99"), 100), p(99, 100));
    }

    #[test]
    fn odd_ranges_are_whole_or_unsatisfiable() {
        assert_eq!(byte_range(Some("bytes=100-"), 100), ByteRange::Unsatisfiable);
        assert_eq!(byte_range(Some("bytes=-0"), 100), ByteRange::Unsatisfiable);
        assert_eq!(byte_range(Some("bytes=0-"), 0), ByteRange::Unsatisfiable);
        assert_eq!(
            byte_range(Some("bytes=99999999999999999999999-"), 100),
            ByteRange::Unsatisfiable
        );
        for whole in [
            "bytes=5-1",
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=a-b",
            "bytes=",
            "bytes=-",
            "bytes=+1-2",
            "bytes=1",
            "",
        ] {
            assert_eq!(byte_range(Some(whole), 100), ByteRange::Whole, "{whole}");
        }
    }
}
