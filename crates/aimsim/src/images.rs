//! `--save-images`: the restored test images of an image-restoration
//! workload as 8-bit grayscale PNGs (`NAME.input.png`, `NAME.output.png`,
//! `NAME.target.png`), values in `[0, 1]` clamped and rounded to 0..=255.
//!
//! The encoder is the smallest valid PNG (ISO/IEC 15948): IHDR (bit depth
//! 8, colour type 0), one IDAT holding a zlib stream (RFC 1950) of stored
//! deflate blocks (RFC 1951 §3.2.4, no compression) over rows each led by
//! filter byte 0, and IEND; chunk CRC-32 and zlib Adler-32 as specified.

use crate::{AimsimError, Result};
use aimsim_train::RestoredImage;
use std::path::Path;

/// Writes the three PNGs of every image into `dir` (created if needed).
pub fn write_images(dir: &Path, images: &[RestoredImage]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for img in images {
        let (input, ih, iw) = &img.input;
        for (kind, px, h, w) in [
            ("input", input.as_slice(), *ih, *iw),
            ("output", img.output.as_slice(), img.h, img.w),
            ("target", img.target.as_slice(), img.h, img.w),
        ] {
            let bytes = encode_png(px, h, w);
            write_atomic_bytes(&dir.join(format!("{}.{kind}.png", img.name)), &bytes)?;
        }
    }
    Ok(())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AimsimError + '_ {
    move |source| AimsimError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `bytes` through a temporary name renamed into place, so a
/// failure leaves no partial file.
fn write_atomic_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// An 8-bit grayscale PNG of the `h × w` image `px` (values in `[0, 1]`).
pub fn encode_png(px: &[f32], h: usize, w: usize) -> Vec<u8> {
    assert_eq!(px.len(), h * w, "image size");
    let mut raw = Vec::with_capacity(h * (w + 1));
    for row in px.chunks_exact(w) {
        raw.push(0);
        raw.extend(
            row.iter()
                .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8),
        );
    }
    let mut z = vec![0x78, 0x01];
    let mut blocks = raw.chunks(65_535).peekable();
    while let Some(b) = blocks.next() {
        z.push(u8::from(blocks.peek().is_none()));
        let len = b.len() as u16;
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(b);
    }
    z.extend_from_slice(&adler32(&raw).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(w as u32).to_be_bytes());
    ihdr.extend_from_slice(&(h as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_their_standards() {
        // The check values of CRC-32/ISO-HDLC and Adler-32 for "123456789".
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn png_has_the_expected_structure() {
        let px: Vec<f32> = (0..6).map(|v| v as f32 / 5.0).collect();
        let png = encode_png(&px, 2, 3);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(&png[16..24], [0, 0, 0, 3, 0, 0, 0, 2]);
        // IDAT: zlib header, one final stored block of 2 rows × (1 + 3) bytes.
        let idat = &png[33 + 8..];
        assert_eq!(&idat[..3], [0x78, 0x01, 0x01]);
        assert_eq!(&idat[3..5], 8u16.to_le_bytes());
        assert_eq!(&idat[7..15], [0, 0, 51, 102, 0, 153, 204, 255]);
        assert_eq!(&png[png.len() - 8..png.len() - 4], b"IEND");
    }
}
