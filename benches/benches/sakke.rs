//! MIKEY-SAKKE primitives: SAKKE (RFC 6508, parameter set 1) and ECCSI (RFC 6507, P-256), side
//! by side with wolfSSL's in the same run.
//!
//! * `sakke/encapsulate`: one SED to an identity (r, [r]([b]P + Z), g^r, hashes);
//! * `sakke/decapsulate/plain`: one pairing with R in the Miller loop, then the re-encryption
//!   test [r]([b]P + Z); `sakke/decapsulate/precomputed`: the same with the RSK's Miller-loop
//!   lines precomputed per receiver (as wolfSSL's RSK table);
//! * `sakke/validate-rsk`: ⟨[b]P + Z, K⟩ = g, one pairing;
//! * `eccsi/sign`, `eccsi/verify`;
//! * `kms/issue`: a KMS issuing one user's keys for a key period (RSK, SSK and PVT of its
//!   identifier), and `kms/renew`: the user validating them and precomputing its receiver.
//!
//! After those, `kms/period` issues a whole period's keys for [`KMS_USERS`] users once, on one
//! core, and prints the total: the KMS's cost per key period for an organisation of that size.
//!
//! After criterion's groups, `sakke/side-by-side` times each operation here and in wolfSSL
//! (through `schemes/tests/interop/wolfssl_peer.c`, compiled with `cc -lwolfssl`; it needs
//! Debian's `libwolfssl-dev`) with the same keys and inputs, and prints both means and the ratio.
//! Without a C compiler or the library it says so and prints Conclave's figures alone.
//!
//! ```sh
//! cargo bench -p conclave-benches --bench sakke
//! ```

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use conclave_benches::rng;
use conclave_schemes::kd::sakke::eccsi::{verify, Ksak, SigningKey};
use conclave_schemes::kd::sakke::group::{Kms, Sakke, Server};
use conclave_schemes::kd::sakke::kem::{encapsulate, encapsulate_ssv, KmsMasterKey, Receiver};
use conclave_schemes::kd::{KdAuthority, KdClient, KeyDistribution, OrgId, Period};
use conclave_schemes::{UserId, Wire};
use criterion::{criterion_group, criterion_main, Criterion};

const ID: &[u8] = b"2026-12\0tel:+447700900123\0";
const MESSAGE: &[u8] = b"I_MESSAGE body: 16-byte group key for room 7, epoch 3";

fn bench_sakke(c: &mut Criterion) {
    let mut rng = rng("sakke");
    let master = KmsMasterKey::generate(&mut rng);
    let kms = master.public_key();
    let rsk = master.issue_rsk(ID).expect("RSK");
    let plain = Receiver::new(&kms, ID, rsk.clone()).expect("valid RSK");
    let prepared = Receiver::with_precomputation(&kms, ID, rsk.clone()).expect("valid RSK");
    let (_, sed) = encapsulate(&mut rng, &kms, ID).expect("encapsulation");

    let mut group = c.benchmark_group("sakke");
    group.sample_size(20);
    group.bench_function("encapsulate", |b| {
        b.iter(|| encapsulate(&mut rng, black_box(&kms), ID).expect("encapsulation"));
    });
    group.bench_function("decapsulate/plain", |b| {
        b.iter(|| plain.decapsulate(black_box(&sed)).expect("decapsulation"));
    });
    group.bench_function("decapsulate/precomputed", |b| {
        b.iter(|| {
            prepared
                .decapsulate(black_box(&sed))
                .expect("decapsulation")
        });
    });
    group.bench_function("validate-rsk", |b| {
        b.iter(|| rsk.validate(black_box(&kms), ID).expect("valid"));
    });
    group.bench_function("precompute-rsk-lines", |b| {
        b.iter(|| Receiver::with_precomputation(&kms, ID, rsk.clone()).expect("valid"));
    });
    group.finish();
}

fn bench_eccsi(c: &mut Criterion) {
    let mut rng = rng("eccsi");
    let ksak = Ksak::generate(&mut rng);
    let kpak = ksak.kpak();
    let (ssk, pvt) = ksak.issue(&mut rng, ID);
    let key = SigningKey::new(&kpak, ID, ssk, pvt).expect("valid pair");
    let signature = key.sign(&mut rng, MESSAGE);
    let mut group = c.benchmark_group("eccsi");
    group.bench_function("sign", |b| {
        b.iter(|| key.sign(&mut rng, black_box(MESSAGE)))
    });
    group.bench_function("verify", |b| {
        b.iter(|| verify(&kpak, ID, black_box(MESSAGE), &signature).expect("valid"));
    });
    group.finish();
}

/// Mean nanoseconds of `runs` calls of `f`.
fn mean_ns(runs: u32, mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    for _ in 0..runs {
        f();
    }
    start.elapsed().as_secs_f64() * 1e9 / f64::from(runs)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The wolfSSL peer, compiled into the bench's scratch folder; `Err` says why it is absent.
fn wolfssl_peer() -> Result<PathBuf, String> {
    let source =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemes/tests/interop/wolfssl_peer.c");
    let binary = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wolfssl_peer");
    let output = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&binary)
        .arg(&source)
        .arg("-lwolfssl")
        .output()
        .map_err(|e| format!("cannot run `cc`: {e}"))?;
    if output.status.success() {
        Ok(binary)
    } else {
        Err(format!(
            "compiling the wolfSSL peer failed (is libwolfssl-dev installed?): {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Runs `time OP N ARGS` lines through the peer; one mean in nanoseconds per line.
fn wolfssl_times(binary: &PathBuf, lines: &[String]) -> Result<Vec<f64>, String> {
    let mut child = Command::new(binary)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the wolfSSL peer: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut times = Vec::new();
    for line in lines {
        writeln!(stdin, "{line}").map_err(|e| e.to_string())?;
        let mut reply = String::new();
        stdout.read_line(&mut reply).map_err(|e| e.to_string())?;
        let ns = reply
            .strip_prefix("ok ")
            .and_then(|n| n.trim().parse::<f64>().ok())
            .ok_or_else(|| format!("wolfSSL peer: {}", reply.trim()))?;
        times.push(ns);
    }
    drop(stdin);
    let _ = child.wait();
    Ok(times)
}

fn side_by_side(_: &mut Criterion) {
    const RUNS: u32 = 10;
    let mut rng = rng("side-by-side");
    let master = KmsMasterKey::generate(&mut rng);
    let kms = master.public_key();
    let rsk = master.issue_rsk(ID).expect("RSK");
    let plain = Receiver::new(&kms, ID, rsk.clone()).expect("valid RSK");
    let prepared = Receiver::with_precomputation(&kms, ID, rsk.clone()).expect("valid RSK");
    let (ssv, sed) = encapsulate(&mut rng, &kms, ID).expect("encapsulation");
    let ksak = Ksak::generate(&mut rng);
    let kpak = ksak.kpak();
    let (ssk, pvt) = ksak.issue(&mut rng, ID);
    let (ssk_bytes, pvt_bytes) = (ssk.to_bytes(), pvt.to_bytes());
    let key = SigningKey::new(&kpak, ID, ssk, pvt).expect("valid pair");
    let signature = key.sign(&mut rng, MESSAGE);

    let ours = [
        (
            "sakke encapsulate",
            mean_ns(RUNS, || {
                let _ = black_box(encapsulate_ssv(&kms, ID, &ssv));
            }),
        ),
        (
            "sakke decapsulate",
            mean_ns(RUNS, || {
                let _ = black_box(plain.decapsulate(&sed));
            }),
        ),
        (
            "sakke decapsulate, RSK table",
            mean_ns(RUNS, || {
                let _ = black_box(prepared.decapsulate(&sed));
            }),
        ),
        (
            "sakke validate RSK",
            mean_ns(RUNS, || {
                let _ = black_box(rsk.validate(&kms, ID));
            }),
        ),
        (
            "eccsi sign",
            mean_ns(RUNS * 20, || {
                black_box(key.sign(&mut rng, MESSAGE));
            }),
        ),
        (
            "eccsi verify",
            mean_ns(RUNS * 20, || {
                let _ = black_box(verify(&kpak, ID, MESSAGE, &signature));
            }),
        ),
    ];

    let (z, id, rsk_hex, sed_hex) = (
        hex(&kms.to_bytes()),
        hex(ID),
        hex(&rsk.to_bytes()),
        hex(&sed.to_bytes()),
    );
    let (kpak_hex, msg, sig) = (
        hex(&kpak.to_bytes()),
        hex(MESSAGE),
        hex(&signature.to_bytes()),
    );
    let lines = [
        format!("time sakke-encap {RUNS} {z} {id} {}", hex(ssv.as_bytes())),
        format!("time sakke-derive {RUNS} {z} {id} {rsk_hex} {sed_hex}"),
        format!("time sakke-derive {RUNS} {z} {id} {rsk_hex} {sed_hex} table"),
        format!("time sakke-validate {RUNS} {z} {id} {rsk_hex}"),
        format!(
            "time eccsi-sign {} {kpak_hex} {id} {} {} {msg}",
            RUNS * 20,
            hex(&ssk_bytes),
            hex(&pvt_bytes)
        ),
        format!(
            "time eccsi-verify {} {kpak_hex} {id} {msg} {sig}",
            RUNS * 20
        ),
    ];
    let theirs = wolfssl_peer().and_then(|binary| wolfssl_times(&binary, &lines));

    println!("\nsakke/side-by-side (mean of {RUNS} runs, 20x that for ECCSI)");
    println!(
        "{:<30} {:>12} {:>12} {:>8}",
        "operation", "Conclave ms", "wolfSSL ms", "ratio"
    );
    match &theirs {
        Ok(theirs) => {
            for ((name, ours), theirs) in ours.iter().zip(theirs) {
                println!(
                    "{name:<30} {:>12.3} {:>12.3} {:>8.2}",
                    ours / 1e6,
                    theirs / 1e6,
                    ours / theirs
                );
            }
        }
        Err(why) => {
            for (name, ours) in &ours {
                println!("{name:<30} {:>12.3} {:>12} {:>8}", ours / 1e6, "-", "-");
            }
            println!("wolfSSL not measured: {why}");
        }
    }
}

/// Users of the organisation whose whole key period `kms/period` issues.
const KMS_USERS: u32 = 10_000;

fn bench_kms(c: &mut Criterion) {
    let mut rng = rng("kms");
    let mut kms = Kms::new(OrgId(0), &mut rng).expect("KMS");
    let mut server = Server::default();
    let (mut client, _) = Sakke::enroll(&mut server, &mut kms, UserId(7), &mut rng).expect("user");
    let mut group = c.benchmark_group("kms");
    group.sample_size(20);
    group.bench_function("issue", |b| {
        b.iter(|| kms.issue(UserId(7), Period(1), &mut rng).expect("issue"));
    });
    let mut next = 1;
    let mut client_rng = conclave_benches::rng("kms client");
    group.bench_function("renew", |b| {
        b.iter_batched(
            || {
                let issued = kms.issue(UserId(7), Period(next), &mut rng).expect("issue");
                next += 1;
                issued
            },
            |issued| client.renew(&issued, &mut client_rng).expect("valid keys"),
            criterion::BatchSize::PerIteration,
        );
    });
    group.finish();
}

/// One whole key period of a KMS: every user's keys, once, timed as a whole.
fn kms_period(_: &mut Criterion) {
    let mut rng = rng("kms period");
    let mut kms: Kms = Kms::new(OrgId(0), &mut rng).expect("KMS");
    let start = Instant::now();
    let mut octets = 0;
    for u in 0..KMS_USERS {
        octets += kms
            .issue(UserId(u), Period(1), &mut rng)
            .expect("issue")
            .wire_len();
    }
    let spent = start.elapsed();
    eprintln!(
        "kms/period: issuing one key period for {KMS_USERS} users took {:.2} s on one core ({:.3} ms per user), {octets} octets to send",
        spent.as_secs_f64(),
        spent.as_secs_f64() * 1e3 / f64::from(KMS_USERS)
    );
}

criterion_group!(
    benches,
    bench_sakke,
    bench_eccsi,
    bench_kms,
    kms_period,
    side_by_side
);
criterion_main!(benches);
