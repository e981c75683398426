//! Tensor shapes and the digital-periphery tensor operations of a network:
//! im2col / col2im for convolutions on crossbars, pooling, pixel shuffle.
//!
//! Every tensor is one sample, stored channel-major (`C × H × W`, row-major
//! within a channel). A flat vector of `n` features has the shape
//! `n × 1 × 1`.
//!
//! im2col: a `k × k` convolution with stride `s` and zero padding `p` over a
//! `C × H × W` input has `P = OH · OW` output positions
//! (`OH = (H + 2p − k)/s + 1`); position `q = oy·OW + ox` reads the patch
//! `x[c, oy·s + ky − p, ox·s + kx − p]` into row `c·k² + ky·k + kx` of its
//! column, so the convolution is `P` MVMs against the `(k²·C) × C_out`
//! weight matrix (`y[q, co] = Σ_r patch[q, r] · W[r, co]`).

/// A tensor shape: channels × height × width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Channels (features of a flat vector).
    pub c: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
}

impl Shape {
    /// A flat vector of `n` features.
    pub fn flat(n: usize) -> Shape {
        Shape { c: n, h: 1, w: 1 }
    }

    /// Values in the tensor (saturating: a shape read from a file may be
    /// absurd, and validation refuses it by this count).
    pub fn len(&self) -> usize {
        self.c.saturating_mul(self.h).saturating_mul(self.w)
    }

    /// Whether the tensor holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the tensor is a flat vector.
    pub fn is_flat(&self) -> bool {
        self.h == 1 && self.w == 1
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_flat() {
            write!(f, "[{}]", self.c)
        } else {
            write!(f, "[{}, {}, {}]", self.c, self.h, self.w)
        }
    }
}

/// Geometry of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Input shape.
    pub input: Shape,
    /// Kernel size k (square).
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding on each side.
    pub padding: usize,
}

impl ConvGeometry {
    /// Output height and width, or `None` if the kernel does not fit.
    pub fn out_hw(&self) -> Option<(usize, usize)> {
        let (h, w) = (
            self.input.h + 2 * self.padding,
            self.input.w + 2 * self.padding,
        );
        if self.kernel == 0 || self.stride == 0 || self.kernel > h || self.kernel > w {
            return None;
        }
        Some((
            (h - self.kernel) / self.stride + 1,
            (w - self.kernel) / self.stride + 1,
        ))
    }

    /// Rows of the weight matrix: `k² · C`.
    pub fn rows(&self) -> usize {
        self.kernel * self.kernel * self.input.c
    }

    /// Output positions `P = OH · OW`.
    pub fn positions(&self) -> usize {
        self.out_hw().map_or(0, |(h, w)| h * w)
    }

    /// The input coordinate that row `r` of position `(oy, ox)` reads, or
    /// `None` in the zero padding.
    fn source(&self, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
        let y = (oy * self.stride + ky).checked_sub(self.padding)?;
        let x = (ox * self.stride + kx).checked_sub(self.padding)?;
        (y < self.input.h && x < self.input.w).then_some((y, x))
    }

    /// Writes the `P × rows` patch matrix of `x` (one sample) into `cols`.
    pub fn im2col(&self, x: &[f32], cols: &mut [f32]) {
        let (oh, ow) = self.out_hw().expect("validated geometry");
        let (k, rows, s) = (self.kernel, self.rows(), self.input);
        assert_eq!(x.len(), s.len(), "im2col input length");
        assert_eq!(cols.len(), oh * ow * rows, "im2col output length");
        for oy in 0..oh {
            for ox in 0..ow {
                let col = &mut cols[(oy * ow + ox) * rows..][..rows];
                for c in 0..s.c {
                    for ky in 0..k {
                        for kx in 0..k {
                            col[c * k * k + ky * k + kx] = match self.source(oy, ox, ky, kx) {
                                Some((y, xx)) => x[(c * s.h + y) * s.w + xx],
                                None => 0.0,
                            };
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of [`ConvGeometry::im2col`]: adds each patch value of
    /// `cols` (`P × rows`) back to the input position it was read from.
    pub fn col2im_add(&self, cols: &[f32], x: &mut [f32]) {
        let (oh, ow) = self.out_hw().expect("validated geometry");
        let (k, rows, s) = (self.kernel, self.rows(), self.input);
        assert_eq!(x.len(), s.len(), "col2im output length");
        assert_eq!(cols.len(), oh * ow * rows, "col2im input length");
        for oy in 0..oh {
            for ox in 0..ow {
                let col = &cols[(oy * ow + ox) * rows..][..rows];
                for c in 0..s.c {
                    for ky in 0..k {
                        for kx in 0..k {
                            if let Some((y, xx)) = self.source(oy, ox, ky, kx) {
                                x[(c * s.h + y) * s.w + xx] += col[c * k * k + ky * k + kx];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `C × H × W` (channel-major) to `P × C` (position-major), `P = H · W`.
pub fn chw_to_pc(x: &[f32], c: usize, p: usize, out: &mut [f32]) {
    for ch in 0..c {
        for q in 0..p {
            out[q * c + ch] = x[ch * p + q];
        }
    }
}

/// `P × C` (position-major) to `C × H × W` (channel-major).
pub fn pc_to_chw(x: &[f32], c: usize, p: usize, out: &mut [f32]) {
    for q in 0..p {
        for ch in 0..c {
            out[ch * p + q] = x[q * c + ch];
        }
    }
}

/// Kind of pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    /// Largest value of each window.
    Max,
    /// Mean of each window.
    Avg,
}

/// Non-overlapping `size × size` pooling of `x` (`input`); the last rows or
/// columns that do not fill a window are dropped. For max pooling `argmax`
/// receives, per output, the input index chosen (for the backward pass).
pub fn pool_forward(
    kind: PoolKind,
    input: Shape,
    size: usize,
    x: &[f32],
    y: &mut [f32],
    argmax: &mut [usize],
) {
    let (oh, ow) = (input.h / size, input.w / size);
    for c in 0..input.c {
        for oy in 0..oh {
            for ox in 0..ow {
                let o = (c * oh + oy) * ow + ox;
                let mut best = f32::NEG_INFINITY;
                let mut best_i = 0;
                let mut sum = 0.0f32;
                for dy in 0..size {
                    for dx in 0..size {
                        let i = (c * input.h + oy * size + dy) * input.w + ox * size + dx;
                        sum += x[i];
                        if x[i] > best {
                            best = x[i];
                            best_i = i;
                        }
                    }
                }
                match kind {
                    PoolKind::Max => {
                        y[o] = best;
                        argmax[o] = best_i;
                    }
                    PoolKind::Avg => y[o] = sum / (size * size) as f32,
                }
            }
        }
    }
}

/// The pooling's backward pass: adds the gradient `gy` of each output to the
/// inputs of its window (max: the chosen input; avg: each, divided by the
/// window's size).
pub fn pool_backward(
    kind: PoolKind,
    input: Shape,
    size: usize,
    gy: &[f32],
    argmax: &[usize],
    gx: &mut [f32],
) {
    let (oh, ow) = (input.h / size, input.w / size);
    let inv = 1.0 / (size * size) as f32;
    for c in 0..input.c {
        for oy in 0..oh {
            for ox in 0..ow {
                let o = (c * oh + oy) * ow + ox;
                match kind {
                    PoolKind::Max => gx[argmax[o]] += gy[o],
                    PoolKind::Avg => {
                        for dy in 0..size {
                            for dx in 0..size {
                                gx[(c * input.h + oy * size + dy) * input.w + ox * size + dx] +=
                                    gy[o] * inv;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Pixel shuffle by `r` (PyTorch's `PixelShuffle`): input `C·r² × H × W` to
/// output `C × H·r × W·r` with `y[c, h·r + i, w·r + j] = x[c·r² + i·r + j, h, w]`.
/// With `inverse`, gathers the other way (the backward pass of the
/// gradient).
pub fn pixel_shuffle(input: Shape, r: usize, x: &[f32], y: &mut [f32], inverse: bool) {
    let c_out = input.c / (r * r);
    let (ho, wo) = (input.h * r, input.w * r);
    for c in 0..c_out {
        for i in 0..r {
            for j in 0..r {
                for h in 0..input.h {
                    for w in 0..input.w {
                        let src = ((c * r * r + i * r + j) * input.h + h) * input.w + w;
                        let dst = (c * ho + h * r + i) * wo + w * r + j;
                        if inverse {
                            y[src] = x[dst];
                        } else {
                            y[dst] = x[src];
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_shuffle_matches_pytorch_layout_and_inverts() {
        let s = Shape { c: 4, h: 1, w: 2 };
        let x: Vec<f32> = (0..8).map(|v| v as f32).collect();
        let mut y = vec![0.0; 8];
        pixel_shuffle(s, 2, &x, &mut y, false);
        // Channels 0..4 at (0,0) are 0,2,4,6; at (0,1) 1,3,5,7.
        assert_eq!(y, [0.0, 2.0, 1.0, 3.0, 4.0, 6.0, 5.0, 7.0]);
        let mut back = vec![0.0; 8];
        pixel_shuffle(s, 2, &y, &mut back, true);
        assert_eq!(back, x);
    }

    #[test]
    fn pooling_forward_and_backward() {
        let s = Shape { c: 1, h: 2, w: 4 };
        let x = [1.0, 5.0, 2.0, 0.0, 3.0, 4.0, 8.0, 6.0];
        let (mut y, mut am) = (vec![0.0; 2], vec![0; 2]);
        pool_forward(PoolKind::Max, s, 2, &x, &mut y, &mut am);
        assert_eq!(y, [5.0, 8.0]);
        let mut g = vec![0.0; 8];
        pool_backward(PoolKind::Max, s, 2, &[1.0, 2.0], &am, &mut g);
        assert_eq!(g, [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0]);
        pool_forward(PoolKind::Avg, s, 2, &x, &mut y, &mut am);
        assert_eq!(y, [3.25, 4.0]);
    }
}
