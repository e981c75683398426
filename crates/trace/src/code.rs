//! Identifier codes: the standard printable base-94 codes of VCD
//! (`!`, `"`, … `~`, `!!`, …).

/// Longest identifier code: base-94 codes of a `usize` need at most 10 chars.
pub(crate) const CODE_MAX: usize = 10;

/// The standard printable identifier code of signal number `n`: bijective
/// base 94 over `!`..=`~`, least significant digit first (`!`, `"`, …, `~`,
/// `!!`, `"!`, …), as GTKWave and the `vcd` crate number them.
pub(crate) fn id_code(mut n: usize) -> ([u8; CODE_MAX], u8) {
    let mut code = [0u8; CODE_MAX];
    let mut len = 0;
    loop {
        code[len] = b'!' + (n % 94) as u8;
        len += 1;
        n /= 94;
        if n == 0 {
            return (code, len as u8);
        }
        n -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(n: usize) -> String {
        let (c, len) = id_code(n);
        String::from_utf8(c[..usize::from(len)].to_vec()).unwrap()
    }

    #[test]
    fn id_codes_are_unique_printable_and_standard() {
        let codes: Vec<String> = (0..20_000).map(code).collect();
        let set: std::collections::BTreeSet<&String> = codes.iter().collect();
        assert_eq!(set.len(), codes.len());
        assert!(codes
            .iter()
            .all(|c| c.bytes().all(|b| (b'!'..=b'~').contains(&b))));
        assert_eq!(code(0), "!");
        assert_eq!(code(93), "~");
        assert_eq!(code(94), "!!");
        assert_eq!(code(95), "\"!");
        for n in [0usize, 1, 93, 94, 95, 8_835, 8_836, 1_000_000] {
            assert_eq!(code(n), vcd::IdCode::from(n as u64).to_string());
        }
        assert!(code(usize::MAX).len() <= CODE_MAX);
    }
}
