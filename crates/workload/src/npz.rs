//! A small reader of NumPy `.npz` files: a ZIP archive of `.npy` arrays
//! (what `numpy.savez` writes). Only stored (uncompressed) members are
//! read — `numpy.savez_compressed` files are rejected with a message that
//! says so. ZIP64 sizes (numpy writes them) are understood.
//!
//! ZIP layout used (PKWARE APPNOTE 6.3): the end-of-central-directory record
//! gives the central directory; each central entry gives the member's name,
//! method, sizes and local-header offset; the data follows the local header
//! (30 bytes + name + extra). `.npy` (NumPy NEP 1): magic `\x93NUMPY`,
//! version, header length (`u16` for 1.0, `u32` for 2.0/3.0), a Python dict
//! literal with `descr`, `fortran_order` and `shape`, then the raw data.

use std::collections::BTreeMap;

/// One array, converted to `f32`, in C order.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f32>,
    /// Whether the stored type was an integer type.
    pub integer: bool,
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}

/// Reads every `.npy` member of an `.npz` archive, keyed by name without
/// the `.npy` suffix. Errors say what was wrong with the archive.
pub fn read_npz(bytes: &[u8]) -> Result<BTreeMap<String, NpyArray>, String> {
    let bad = |what: &str| format!("not a readable .npz (ZIP) file: {what}");
    // The EOCD record is at most 22 + 65535 bytes from the end.
    let lo = bytes.len().saturating_sub(22 + 65_535);
    let eocd = (lo..=bytes.len().saturating_sub(22))
        .rev()
        .find(|&o| u32_at(bytes, o) == Some(0x0605_4b50))
        .ok_or_else(|| bad("no end-of-central-directory record"))?;
    let entries = u16_at(bytes, eocd + 10).ok_or_else(|| bad("truncated"))? as usize;
    let mut off = u32_at(bytes, eocd + 16).ok_or_else(|| bad("truncated"))? as usize;
    let mut out = BTreeMap::new();
    for _ in 0..entries {
        if u32_at(bytes, off) != Some(0x0201_4b50) {
            return Err(bad("bad central directory entry"));
        }
        let field = |o: usize| u32_at(bytes, off + o).ok_or_else(|| bad("truncated"));
        let method = u16_at(bytes, off + 10).ok_or_else(|| bad("truncated"))?;
        let mut csize = u64::from(field(20)?);
        let mut usize_ = u64::from(field(24)?);
        let name_len = u16_at(bytes, off + 28).ok_or_else(|| bad("truncated"))? as usize;
        let extra_len = u16_at(bytes, off + 30).ok_or_else(|| bad("truncated"))? as usize;
        let comment_len = u16_at(bytes, off + 32).ok_or_else(|| bad("truncated"))? as usize;
        let mut local = u64::from(field(42)?);
        let name = bytes
            .get(off + 46..off + 46 + name_len)
            .ok_or_else(|| bad("truncated name"))?;
        let name = String::from_utf8_lossy(name).into_owned();
        // ZIP64 extended information: the 0xFFFFFFFF fields, in order.
        let extra = bytes
            .get(off + 46 + name_len..off + 46 + name_len + extra_len)
            .ok_or_else(|| bad("truncated extra field"))?;
        let mut e = 0;
        while e + 4 <= extra.len() {
            let id = u16_at(extra, e).unwrap_or(0);
            let len = u16_at(extra, e + 2).unwrap_or(0) as usize;
            if id == 0x0001 {
                let mut p = e + 4;
                for v in [&mut usize_, &mut csize, &mut local] {
                    if *v == 0xFFFF_FFFF {
                        *v = u64_at(extra, p).ok_or_else(|| bad("truncated ZIP64 field"))?;
                        p += 8;
                    }
                }
            }
            e += 4 + len;
        }
        off += 46 + name_len + extra_len + comment_len;
        if method != 0 {
            return Err(format!(
                "member `{name}` is compressed (method {method}); expected an uncompressed archive as `numpy.savez` writes (not `savez_compressed`)"
            ));
        }
        let l = local as usize;
        if u32_at(bytes, l) != Some(0x0403_4b50) {
            return Err(bad("bad local header"));
        }
        let lname = u16_at(bytes, l + 26).ok_or_else(|| bad("truncated"))? as usize;
        let lextra = u16_at(bytes, l + 28).ok_or_else(|| bad("truncated"))? as usize;
        let start = l + 30 + lname + lextra;
        let data = bytes
            .get(start..start + csize as usize)
            .ok_or_else(|| bad(&format!("member `{name}` is truncated")))?;
        let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        let arr = read_npy(data).map_err(|e| format!("member `{name}`: {e}"))?;
        out.insert(key, arr);
    }
    Ok(out)
}

/// Parses one `.npy` array.
pub fn read_npy(b: &[u8]) -> Result<NpyArray, String> {
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
        return Err("not a .npy array (bad magic)".into());
    }
    let (hlen, hstart) = match b[6] {
        1 => (u16_at(b, 8).unwrap_or(0) as usize, 10),
        2 | 3 => (u32_at(b, 8).ok_or("truncated .npy header")? as usize, 12),
        v => return Err(format!(".npy version {v}; expected 1, 2 or 3")),
    };
    let header = b
        .get(hstart..hstart + hlen)
        .ok_or("truncated .npy header")?;
    let header = std::str::from_utf8(header).map_err(|_| "non-text .npy header")?;
    let descr = dict_value(header, "descr").ok_or("no `descr` in the .npy header")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    if dict_value(header, "fortran_order").map(str::trim) == Some("True") {
        return Err("Fortran-ordered array; expected C order".into());
    }
    let shape_text = dict_value(header, "shape").ok_or("no `shape` in the .npy header")?;
    let shape: Vec<usize> = shape_text
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad shape `{shape_text}`"))
        })
        .collect::<Result<_, _>>()?;
    let body = &b[hstart + hlen..];
    if descr.len() < 3 || !descr.is_ascii() {
        return Err(format!("type `{descr}`; expected e.g. '<f4'"));
    }
    let (endian, ty) = descr.split_at(1);
    if endian == ">" {
        return Err(format!("big-endian type `{descr}`; expected little-endian"));
    }
    let width: usize = match ty[1..].parse() {
        Ok(w @ (1 | 2 | 4 | 8)) => w,
        _ => {
            return Err(format!(
                "type `{descr}`; expected a width of 1, 2, 4 or 8 bytes"
            ))
        }
    };
    let bytes = shape
        .iter()
        .try_fold(width, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= body.len())
        .ok_or_else(|| {
            format!(
                "data of {} bytes; expected shape {shape:?} of `{descr}` to fit in them",
                body.len()
            )
        })?;
    let chunks = body[..bytes].chunks_exact(width);
    let (data, integer): (Vec<f32>, bool) = match ty {
        "f4" => (
            chunks
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect(),
            false,
        ),
        "f8" => (
            chunks
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)
                .collect(),
            false,
        ),
        "u1" | "b1" => (chunks.map(|c| f32::from(c[0])).collect(), true),
        "i1" => (chunks.map(|c| f32::from(c[0] as i8)).collect(), true),
        "u2" => (
            chunks
                .map(|c| f32::from(u16::from_le_bytes(c.try_into().unwrap())))
                .collect(),
            true,
        ),
        "i2" => (
            chunks
                .map(|c| f32::from(i16::from_le_bytes(c.try_into().unwrap())))
                .collect(),
            true,
        ),
        "i4" => (
            chunks
                .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as f32)
                .collect(),
            true,
        ),
        "u4" => (
            chunks
                .map(|c| u32::from_le_bytes(c.try_into().unwrap()) as f32)
                .collect(),
            true,
        ),
        "i8" => (
            chunks
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f32)
                .collect(),
            true,
        ),
        "u8" => (
            chunks
                .map(|c| u64::from_le_bytes(c.try_into().unwrap()) as f32)
                .collect(),
            true,
        ),
        _ => {
            return Err(format!(
                "type `{descr}`; expected a float (f4, f8) or integer (i1..i8, u1..u8) type"
            ))
        }
    };
    Ok(NpyArray {
        shape,
        data,
        integer,
    })
}

/// The text of `key`'s value in a Python dict literal (up to the next
/// top-level comma).
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let k = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = &header[k + key.len() + 2..];
    let rest = rest[rest.find(':')? + 1..].trim_start();
    let mut depth = 0;
    for (i, ch) in rest.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(rest[..i].trim()),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tests/data/tiny.npz`, written by
    /// `python3 -c "import numpy as np; np.savez('tiny.npz', a=np.arange(6, dtype=np.float32).reshape(2, 3), b=np.array([3, 1], dtype=np.int64))"`.
    #[test]
    fn reads_numpy_savez_output() {
        let bytes = include_bytes!("../tests/data/tiny.npz");
        let m = read_npz(bytes).unwrap();
        assert_eq!(m["a"].shape, [2, 3]);
        assert_eq!(m["a"].data, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert!(!m["a"].integer);
        assert_eq!(m["b"].shape, [2]);
        assert_eq!(m["b"].data, [3.0, 1.0]);
        assert!(m["b"].integer);
    }

    #[test]
    fn rejects_garbage_and_compressed() {
        assert!(read_npz(b"hello").unwrap_err().contains("ZIP"));
        let bytes = include_bytes!("../tests/data/tiny-compressed.npz");
        assert!(read_npz(bytes).unwrap_err().contains("savez_compressed"));
    }
}
