//! Signal selection: `*` globs over dotted signal names.

/// Glob match of `text` against `pattern`, where `*` matches any run of
/// characters (dots included) and every other character matches itself.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("tile*.busy", "tile12.busy"));
        assert!(glob("controller.*", "controller.phase"));
        assert!(!glob("controller.*", "controllerx.phase"));
        assert!(!glob("tile*.busy", "tile1.adc_busy"));
        assert!(glob("*busy", "tile1.adc_busy"));
        assert!(glob("*", "x"));
        assert!(glob("a*b*c", "a.x.b.y.c"));
        assert!(!glob("a*b*c", "a.x.b.y.d"));
        assert!(glob("exact.name", "exact.name"));
        assert!(!glob("exact.name", "exact.names"));
        assert!(!glob("", "x"));
    }
}
