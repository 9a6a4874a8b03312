//! Structured reference strings: an insecure locally generated one for development and tests,
//! and loading of a published powers-of-tau file checked against its expected hash.
use crate::error::{io_err, ProverError, Result};
use ff::PrimeField;
use halo2_base::halo2_proofs::{
    halo2curves::{
        bn256::{Bn256, Fq, Fq2, G1Affine, G2Affine},
        pairing::Engine,
        serde::SerdeObject,
        CurveAffine,
    },
    poly::{commitment::Params, kzg::commitment::ParamsKZG},
};
use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// The toxic waste of the development SRS derives from this public seed: anyone can forge
/// proofs against it. Never use it on a public chain.
pub const INSECURE_DEV_SEED: u64 = 0x7a6b_6d61_726b_6574;

/// SHA-256 of a file, streamed (published SRS files run to gigabytes).
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(io_err(path))?;
    Ok(hex::encode(hasher.finalize()))
}

/// The development SRS of 2^k points: the same points `ParamsKZG::setup` makes from the public
/// seed, computed as fixed-base multiples [s^i]G and [L_i(s)]G (a byte-window table of G)
/// instead of a scalar multiplication per point and an FFT over curve points, which took most of
/// an hour at 2^24 on two cores.
pub fn dev_params(k: u32) -> ParamsKZG<Bn256> {
    use ff::Field;
    use halo2_base::halo2_proofs::arithmetic::parallelize;
    use halo2_base::halo2_proofs::halo2curves::bn256::{Fr, G1};
    use halo2_base::halo2_proofs::halo2curves::group::{prime::PrimeCurveAffine, Curve, Group};

    let s = Fr::random(ChaCha20Rng::seed_from_u64(INSECURE_DEV_SEED));
    let n = 1usize << k;
    // table[j][d] = d * 256^j * G: a scalar's 32 little-endian bytes pick one point per row.
    let mut table = vec![[G1Affine::identity(); 256]; 32];
    let mut base = G1::generator();
    for row in table.iter_mut() {
        let mut multiples = vec![G1::identity(); 256];
        for d in 1..256 {
            multiples[d] = multiples[d - 1] + base;
        }
        G1::batch_normalize(&multiples, row);
        base = multiples[255] + base;
    }
    let times_g = |x: &Fr| -> G1 { x.to_repr().iter().zip(&table).fold(G1::identity(), |acc, (b, row)| acc + row[*b as usize]) };
    let affine = |points: Vec<G1>| {
        let mut out = vec![G1Affine::identity(); points.len()];
        parallelize(&mut out, |chunk, start| G1::batch_normalize(&points[start..start + chunk.len()], chunk));
        out
    };
    let mut g = vec![G1::identity(); n];
    parallelize(&mut g, |chunk, start| {
        let mut power = s.pow_vartime([start as u64]);
        for p in chunk.iter_mut() {
            *p = times_g(&power);
            power *= s;
        }
    });
    // L_i(s) = omega^i (s^n - 1) / (n (s - omega^i)), omega the domain's 2^k-th root of unity.
    let omega = (k..Fr::S).fold(Fr::ROOT_OF_UNITY, |w, _| w.square());
    let scale = (s.pow_vartime([n as u64]) - Fr::ONE) * Fr::from(n as u64).invert().unwrap();
    let mut lagrange = vec![G1::identity(); n];
    parallelize(&mut lagrange, |chunk, start| {
        let mut w = omega.pow_vartime([start as u64]);
        for p in chunk.iter_mut() {
            *p = times_g(&(w * scale * (s - w).invert().unwrap()));
            w *= omega;
        }
    });
    let g2 = G2Affine::generator();
    let s_g2 = (g2 * s).to_affine();
    // from_parts needs an instance; a 2-point setup costs nothing and is discarded.
    let scaffold = ParamsKZG::<Bn256>::setup(1, ChaCha20Rng::seed_from_u64(0));
    scaffold.from_parts(k, affine(g), Some(affine(lagrange)), g2, s_g2)
}

/// Writes an insecure development SRS of 2^k points to `path` (halo2 raw format).
pub fn write_dev_srs(k: u32, path: &Path) -> Result<()> {
    if !(4..=26).contains(&k) {
        return Err(ProverError::Srs(format!("k must be in 4..=26, got {k}")));
    }
    let params = dev_params(k);
    let mut buf = vec![];
    params.write(&mut buf).map_err(io_err(path))?;
    fs::write(path, buf).map_err(io_err(path))
}

/// Reads an SRS in halo2's KZG format, checks its SHA-256 when given, and shrinks it to 2^k.
pub fn load_srs(path: &Path, expected_sha256: Option<&str>, k: u32) -> Result<ParamsKZG<Bn256>> {
    if let Some(expected) = expected_sha256 {
        let actual = sha256_file(path)?;
        if !actual.eq_ignore_ascii_case(expected.trim_start_matches("0x")) {
            return Err(ProverError::Srs(format!(
                "{} has SHA-256 {actual}, expected {expected}",
                path.display()
            )));
        }
    }
    let file = fs::File::open(path).map_err(io_err(path))?;
    let mut params = ParamsKZG::<Bn256>::read(&mut BufReader::new(file))
        .map_err(|e| ProverError::Srs(format!("{} is not a halo2 KZG parameter file: {e}", path.display())))?;
    if params.k() < k {
        return Err(ProverError::Srs(format!(
            "{} holds 2^{} points, the circuit needs 2^{k}",
            path.display(),
            params.k()
        )));
    }
    if params.k() > k {
        params.downsize(k);
    }
    Ok(params)
}

/// Reads the first 2^k powers of tau of a snarkjs / Perpetual Powers of Tau `.ptau` file (BN254)
/// into halo2 KZG parameters, checking the file's shape, that every point is on its curve and,
/// with one pairing, that its G1 and G2 powers share the same tau.
///
/// Format (snarkjs `binFileUtils`): "ptau", version, section count, then sections (type u32,
/// size u64, data). Section 1: n8 (32), the base field modulus q, power, ceremony power.
/// Section 2: tau^i G1 for i < 2^(power+1) - 1; section 3: tau^i G2 for i < 2^power. Points are
/// affine, coordinates little endian in Montgomery form (R = 2^256), as halo2curves stores them.
pub fn params_from_ptau(path: &Path, k: u32) -> Result<ParamsKZG<Bn256>> {
    let bad = |why: String| ProverError::Srs(format!("{} is not a usable BN254 .ptau file: {why}", path.display()));
    // Only the section table, the header and the first 2^k powers are read: ceremony files
    // run to gigabytes.
    let mut file = fs::File::open(path).map_err(io_err(path))?;
    let file_len = file.metadata().map_err(io_err(path))?.len();
    let mut read_at = |offset: u64, len: usize| -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        file.seek(SeekFrom::Start(offset)).map_err(io_err(path))?;
        file.read_exact(&mut buf).map_err(|_| bad(format!("truncated at byte {offset}")))?;
        Ok(buf)
    };
    let start = read_at(0, 12)?;
    if &start[..4] != b"ptau" {
        return Err(bad("it does not start with the 'ptau' magic".into()));
    }
    let le32 = |b: &[u8]| u32::from_le_bytes(b[..4].try_into().expect("4 bytes"));
    let mut sections = std::collections::HashMap::new();
    let mut at = 12u64;
    for _ in 0..le32(&start[8..]) {
        let entry = read_at(at, 12)?;
        let (kind, size) = (le32(&entry), u64::from_le_bytes(entry[4..12].try_into().expect("8 bytes")));
        if at + 12 + size > file_len {
            return Err(bad(format!("section {kind} runs past the end of the file")));
        }
        sections.insert(kind, (at + 12, size));
        at += 12 + size;
    }
    let mut section = |kind: u32, len: usize| -> Result<Vec<u8>> {
        let (offset, size) = *sections.get(&kind).ok_or_else(|| bad(format!("no section {kind}")))?;
        if (size as usize) < len {
            return Err(bad(format!("section {kind} is shorter than its header says")));
        }
        read_at(offset, len)
    };
    let header = section(1, 44)?;
    if le32(&header) != 32 {
        return Err(bad("its header does not describe 32-byte field elements".into()));
    }
    let modulus = hex::decode(Fq::MODULUS.trim_start_matches("0x")).expect("hex modulus");
    if header[4..36].iter().rev().ne(modulus.iter()) {
        return Err(bad("its curve is not BN254 (bn128)".into()));
    }
    let power = le32(&header[36..]);
    if power < k {
        return Err(ProverError::Srs(format!("{} holds 2^{power} powers of tau, the circuit needs 2^{k}", path.display())));
    }
    let fq = |b: &[u8]| Fq::from_raw_bytes(b).ok_or_else(|| bad("a coordinate is not a field element".into()));
    let g1 = |b: &[u8]| -> Result<G1Affine> {
        Option::from(G1Affine::from_xy(fq(&b[..32])?, fq(&b[32..64])?)).ok_or_else(|| bad("a G1 point is off the curve".into()))
    };
    let g2 = |b: &[u8]| -> Result<G2Affine> {
        let x = Fq2 { c0: fq(&b[..32])?, c1: fq(&b[32..64])? };
        let y = Fq2 { c0: fq(&b[64..96])?, c1: fq(&b[96..128])? };
        Option::from(G2Affine::from_xy(x, y)).ok_or_else(|| bad("a G2 point is off the curve".into()))
    };
    let n = 1usize << k;
    let (tau_g1, tau_g2) = (section(2, 64 * n)?, section(3, 256)?);
    let g = tau_g1.chunks(64).map(g1).collect::<Result<Vec<_>>>()?;
    let (g2_gen, s_g2) = (g2(&tau_g2[..128])?, g2(&tau_g2[128..256])?);
    if g[0] != G1Affine::generator() || g2_gen != G2Affine::generator() {
        return Err(bad("its first powers are not the generators".into()));
    }
    if n > 1 && Bn256::pairing(&g[1], &g2_gen) != Bn256::pairing(&g[0], &s_g2) {
        return Err(bad("its G1 and G2 powers are of different taus".into()));
    }
    // from_parts needs an instance; a 2-point setup costs nothing and is discarded.
    let scaffold = ParamsKZG::<Bn256>::setup(1, ChaCha20Rng::seed_from_u64(0));
    Ok(scaffold.from_parts(k, g, None, g2_gen, s_g2))
}

/// Converts the first 2^k powers of a `.ptau` file (`params_from_ptau`) into a halo2 KZG file.
pub fn write_ptau_as_halo2(ptau: &Path, k: u32, out: &Path) -> Result<()> {
    let params = params_from_ptau(ptau, k)?;
    let mut buf = vec![];
    params.write(&mut buf).map_err(io_err(out))?;
    fs::write(out, buf).map_err(io_err(out))
}

/// The x coordinate of [tau]G2 as two 32-byte big-endian words (c0, c1), hex: an
/// on-chain verifier made with this SRS carries them in its code (its pairing check), so they
/// tell which SRS a deployed verifier trusts.
pub fn s_g2_x_words(path: &Path) -> Result<[String; 2]> {
    let file = fs::File::open(path).map_err(io_err(path))?;
    let params = ParamsKZG::<Bn256>::read(&mut BufReader::new(file))
        .map_err(|e| ProverError::Srs(format!("{} is not a halo2 KZG parameter file: {e}", path.display())))?;
    let x = params.s_g2().x;
    let word = |f: Fq| {
        let mut bytes = f.to_repr();
        bytes.as_mut().reverse();
        format!("0x{}", hex::encode(bytes.as_ref()))
    };
    Ok([word(x.c0), word(x.c1)])
}
