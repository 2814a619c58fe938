//! The reduced Tate–Lichtenbaum pairing ⟨·,·⟩ : E(F_p)\[q\] × E(F_p)\[q\] → PF_p\[q\] of RFC 6508
//! §3.2 with the distortion map ψ(x, y) = (−x, i·y), and exponentiation in PF_p.
//!
//! The Miller loop runs over the bits of q − 1 from the second most significant one down. The
//! running point C is kept in Jacobian coordinates (x = X/Z², y = Y/Z³), so no step inverts:
//! every line value is scaled by a power of Z or by its F_p denominator, and F_p factors vanish in
//! PF_p = F_p²*/F_p* (the same reason the RFC's final exponentiation is only by c = (p + 1)/q = 4,
//! the rest of (p² − 1)/q being the projection). In this form each line is
//! `A·Qx + B + i·C·Qy`, evaluated at ψ(Q):
//!
//! * tangent at C (`δ = Z²`, `γ = Y²`, `α = 3(X − δ)(X + δ)`): `A = α·δ`, `B = α·X − 2γ`,
//!   `C = Z₃·δ` with `Z₃ = 2YZ` (the line λ(Qx + Cx) + i·Qy − Cy multiplied by 2·Y·Z³);
//! * chord through C and R (`S = Ry·Z³`, `H = Rx·Z² − X`): `A = Y − S`, `B = Y·Rx − Ry·Z·X`,
//!   `C = −Z·H` (the line multiplied by Z³·(Cx − Rx)).
//!
//! [`PreparedPairing`] fixes the first argument: its lines do not depend on the second, so they
//! are computed once, divided by their `C` (one batch inversion) and stored as `(A/C, B/C)`;
//! each evaluation then costs one F_p multiplication per line besides the F_p² accumulation.
//! The reduced pairing is symmetric here (both arguments lie in the one cyclic group of order q
//! and ψ makes ⟨P, P⟩ non-degenerate), so a receiver prepares its fixed RSK and evaluates at
//! each incoming R.
//!
//! Everything here is variable time: the loop's shape follows the public q, but ark-ff's field
//! arithmetic and the final inversion are not constant time, and the exponentiation
//! [`pf_pow_generator`] branches on the bits of its secret exponent.

use ark_ec::{AdditiveGroup, AffineRepr};
use ark_ff::{batch_inversion, BigInteger, Field, MontConfig, PrimeField, Zero};
use std::sync::OnceLock;

use zeroize::Zeroize;

use super::curve::{pf_representative, Point, PAIRING_GENERATOR};
use super::field::{Fp, Fp2, Fq, ScalarFieldConfig};
use crate::SchemeError;

/// A line through the running point, as `A·x + B + i·C·y` evaluated at ψ(x, y) up to an F_p
/// factor.
#[derive(Debug, Clone, Copy)]
struct Line {
    a: Fp,
    b: Fp,
    c: Fp,
}

/// The running point of the Miller loop in Jacobian coordinates.
#[derive(Debug, Clone, Copy)]
struct Jacobian {
    x: Fp,
    y: Fp,
    z: Fp,
}

impl Jacobian {
    fn from_affine(p: &Point) -> Self {
        Self {
            x: p.x,
            y: p.y,
            z: Fp::ONE,
        }
    }

    /// C := \[2\]C (dbl-2001-b, a = −3) and the tangent at the old C.
    fn double(&mut self) -> Line {
        let delta = self.z.square();
        let gamma = self.y.square();
        let beta = self.x * gamma;
        let alpha = (self.x - delta) * (self.x + delta);
        let alpha = alpha.double() + alpha;
        let z3 = (self.y + self.z).square() - gamma - delta;
        let four_beta = beta.double().double();
        let x3 = alpha.square() - four_beta.double();
        let eight_gamma_sq = gamma.square().double().double().double();
        let y3 = alpha * (four_beta - x3) - eight_gamma_sq;
        let line = Line {
            a: alpha * delta,
            b: alpha * self.x - gamma.double(),
            c: z3 * delta,
        };
        *self = Self {
            x: x3,
            y: y3,
            z: z3,
        };
        line
    }

    /// C := C + R for an affine R, and the chord through C and R. Fails (opaquely) if C = ±R,
    /// which cannot happen inside the loop for R of order q (the multiples stay strictly between
    /// 1 and q − 1), only for a point outside the subgroup.
    fn add_affine(&mut self, r: &Point) -> Result<Line, SchemeError> {
        let z1z1 = self.z.square();
        let z_cubed = self.z * z1z1;
        let s2 = r.y * z_cubed;
        let h = r.x * z1z1 - self.x;
        if h.is_zero() {
            return Err(SchemeError::Crypto);
        }
        let rr = s2 - self.y;
        let line = Line {
            a: -rr,
            b: self.y * r.x - r.y * self.z * self.x,
            c: -(self.z * h),
        };
        let hh = h.square();
        let hhh = h * hh;
        let v = self.x * hh;
        let x3 = rr.square() - hhh - v.double();
        let y3 = rr * (v - x3) - self.y * hhh;
        let z3 = self.z * h;
        *self = Self {
            x: x3,
            y: y3,
            z: z3,
        };
        Ok(line)
    }
}

/// The bits of q − 1 below its most significant one, most significant first.
fn loop_bits() -> impl Iterator<Item = bool> {
    let mut q_minus_one = <ScalarFieldConfig as MontConfig<16>>::MODULUS;
    q_minus_one.sub_with_borrow(&ark_ff::BigInt::from(1u64));
    let bits = q_minus_one.to_bits_be();
    let first_one = bits.iter().position(|&b| b).unwrap_or(bits.len());
    bits.into_iter().skip(first_one + 1)
}

/// Walks the Miller loop for the first argument `r`, handing each step's lines to `visit`
/// (`true` marks a doubling, which squares the accumulator first).
fn miller_lines(r: &Point, mut visit: impl FnMut(bool, Line)) -> Result<(), SchemeError> {
    let mut c = Jacobian::from_affine(r);
    for bit in loop_bits() {
        visit(true, c.double());
        if bit {
            visit(false, c.add_affine(r)?);
        }
    }
    Ok(())
}

/// v^c with c = (p + 1)/q = 4, then the F_p representative x₂/x₁.
fn finish(v: Fp2) -> Result<Fp, SchemeError> {
    let v = v.square().square();
    pf_representative(&v.c0, &v.c1).ok_or(SchemeError::Crypto)
}

fn check_inputs(r: &Point, q: &Point) -> Result<(), SchemeError> {
    if r.is_zero() || q.is_zero() {
        return Err(SchemeError::Crypto);
    }
    Ok(())
}

/// ⟨R, Q⟩ (RFC 6508 §3.2) as its F_p representative. Both points must lie in the order-q
/// subgroup (the callers check this when decoding); the identity is refused.
pub fn pairing(r: &Point, q: &Point) -> Result<Fp, SchemeError> {
    check_inputs(r, q)?;
    let mut v = Fp2::ONE;
    miller_lines(r, |doubling, line| {
        if doubling {
            v.square_in_place();
        }
        v *= Fp2::new(line.a * q.x + line.b, line.c * q.y);
    })?;
    finish(v)
}

/// The Miller-loop lines of a fixed first argument, normalised so that evaluating one at ψ(Q)
/// costs one F_p multiplication: each line is `a·Qx + b + i·Qy`. The lines determine the first
/// argument, so they are wiped on drop.
#[derive(Clone)]
pub struct PreparedPairing {
    /// Per step: whether it is a doubling, and the normalised (a, b).
    lines: Vec<(bool, Fp, Fp)>,
}

impl std::fmt::Debug for PreparedPairing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PreparedPairing({} lines, redacted)", self.lines.len())
    }
}

impl Drop for PreparedPairing {
    fn drop(&mut self) {
        for (_, a, b) in &mut self.lines {
            a.zeroize();
            b.zeroize();
        }
    }
}

impl PreparedPairing {
    /// Precomputes the lines of ⟨`r`, ·⟩. `r` must lie in the order-q subgroup.
    pub fn new(r: &Point) -> Result<Self, SchemeError> {
        if r.is_zero() {
            return Err(SchemeError::Crypto);
        }
        let mut raw = Vec::with_capacity(1600);
        miller_lines(r, |doubling, line| raw.push((doubling, line)))?;
        let mut denominators: Vec<Fp> = raw.iter().map(|(_, line)| line.c).collect();
        if denominators.iter().any(Zero::is_zero) {
            return Err(SchemeError::Internal("Miller line with no y term"));
        }
        batch_inversion(&mut denominators);
        let lines = raw
            .iter()
            .zip(&denominators)
            .map(|((doubling, line), inv)| (*doubling, line.a * inv, line.b * inv))
            .collect();
        Ok(Self { lines })
    }

    /// ⟨r, `q`⟩ for the prepared r. `q` must lie in the order-q subgroup.
    pub fn evaluate(&self, q: &Point) -> Result<Fp, SchemeError> {
        if q.is_zero() {
            return Err(SchemeError::Crypto);
        }
        let mut v = Fp2::ONE;
        for (doubling, a, b) in &self.lines {
            if *doubling {
                v.square_in_place();
            }
            let re = *a * q.x + b;
            // (v0 + i·v1)(re + i·Qy) = (v0·re − v1·Qy) + i·(v0·Qy + v1·re).
            v = Fp2::new(v.c0 * re - v.c1 * q.y, v.c0 * q.y + v.c1 * re);
        }
        finish(v)
    }
}

/// (1 + i·g)^(2^j) for j below the bit length of q, computed once per process (1,022 F_p²
/// squarings, 256 KiB): g^k is then a product of the entries for k's set bits, with no squaring.
fn generator_powers_of_two() -> &'static [Fp2] {
    static POWERS: OnceLock<Vec<Fp2>> = OnceLock::new();
    POWERS.get_or_init(|| {
        let bits = usize::try_from(Fq::MODULUS_BIT_SIZE).unwrap_or(1024);
        let mut power = Fp2::new(Fp::ONE, PAIRING_GENERATOR);
        let mut powers = Vec::with_capacity(bits);
        for _ in 0..bits {
            powers.push(power);
            power.square_in_place();
        }
        powers
    })
}

/// g^k in PF_p for g = ⟨P, P⟩ (the class of 1 + i·g) as its F_p representative (RFC 6508
/// §6.2.1 step 4a). Variable time in `k`: one F_p² multiplication per set bit.
pub fn pf_pow_generator(k: &Fq) -> Result<Fp, SchemeError> {
    let v = Fp2::pow_with_table(generator_powers_of_two(), k.into_bigint())
        .ok_or(SchemeError::Internal("g^k table shorter than k"))?;
    pf_representative(&v.c0, &v.c1).ok_or(SchemeError::Internal("g^k has no F_p representative"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kd::sakke::curve::{generator, mul_generator, to_affine};

    #[test]
    fn pairing_of_the_generator_is_g() {
        assert_eq!(pairing(&generator(), &generator()), Ok(PAIRING_GENERATOR));
    }

    #[test]
    fn pairing_is_bilinear_and_prepared_form_agrees() {
        let a = Fq::from(5u64);
        let b = Fq::from(11u64);
        let pa = to_affine(&mul_generator(&a));
        let pb = to_affine(&mul_generator(&b));
        let expected = pf_pow_generator(&(a * b));
        assert_eq!(pairing(&pa, &pb), expected);
        assert_eq!(pairing(&pb, &pa), expected);
        let prepared = PreparedPairing::new(&pb).expect("order-q point");
        assert_eq!(prepared.evaluate(&pa), expected);
    }
}
