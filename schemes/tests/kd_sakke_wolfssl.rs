//! Interoperability of Conclave's ECCSI and SAKKE with wolfSSL's (wolfCrypt 5.5.4 as Debian
//! ships it in `libwolfssl-dev`): keys issued by either side's KMS, encapsulations and
//! signatures made by either side and opened or verified by the other.
//!
//! wolfSSL is driven through `tests/interop/wolfssl_peer.c`, compiled here with the system C
//! compiler (`cc … -lwolfssl`) and run as a subprocess speaking hex lines. The test fails, never
//! skips, when the compiler or the library is missing. Run with
//! `cargo test --release -p conclave-schemes --features wolfssl-interop --test kd_sakke_wolfssl`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;

use conclave_schemes::kd::sakke::eccsi::{self, Kpak, Ksak, Pvt, Signature, SigningKey, Ssk};
use conclave_schemes::kd::sakke::kem::{
    encapsulate, encapsulate_ssv, KmsMasterKey, KmsPublicKey, Receiver, Rsk, Sed, Ssv,
};
use conclave_schemes::SchemeError;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// Compiles the peer once per test binary.
fn peer_binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/wolfssl_peer.c");
        let binary = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wolfssl_peer");
        let output = Command::new("cc")
            .args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
            .arg(&binary)
            .arg(&source)
            .arg("-lwolfssl")
            .output()
            .expect("running the C compiler `cc` (install a C toolchain)");
        assert!(
            output.status.success(),
            "compiling {} against -lwolfssl failed (is libwolfssl-dev installed?):\n{}",
            source.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        binary
    })
}

/// A running wolfSSL peer.
struct Wolf {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Wolf {
    fn start() -> Self {
        let mut child = Command::new(peer_binary())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting the wolfSSL peer");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends one command; returns the reply's fields after "ok", or the error line.
    fn call(&mut self, command: &str, args: &[&[u8]]) -> Result<Vec<Vec<u8>>, String> {
        let mut line = command.to_owned();
        for arg in args {
            line.push(' ');
            line.push_str(&hex(arg));
        }
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        let mut reply = String::new();
        self.stdout.read_line(&mut reply).unwrap();
        let mut fields = reply.split_whitespace();
        match fields.next() {
            Some("ok") => Ok(fields.map(unhex).collect()),
            _ => Err(reply.trim().to_owned()),
        }
    }

    fn ok(&mut self, command: &str, args: &[&[u8]]) -> Vec<Vec<u8>> {
        self.call(command, args)
            .unwrap_or_else(|e| panic!("wolfSSL {command}: {e}"))
    }

    /// A yes/no answer ("ok 01" / "ok 00").
    fn yes(&mut self, command: &str, args: &[&[u8]]) -> bool {
        self.ok(command, args)[0] == [1]
    }
}

impl Drop for Wolf {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A KPAK, an identity and its encoded SSK and PVT.
type IssuedKey = (Kpak, &'static [u8], Vec<u8>, Vec<u8>);

const ALICE: &[u8] = b"2026-12\0tel:+447700900123\0";
const BOB: &[u8] = b"2026-12\0mailto:bob@supplier.example\0";

#[test]
fn sakke_keys_issued_by_either_kms_agree() {
    let mut wolf = Wolf::start();
    let mut rng = ChaCha20Rng::seed_from_u64(1);

    // wolfSSL's KMS: its RSK validates here, and the same z gives the same RSK here.
    let fields = wolf.ok("sakke-keygen", &[]);
    let (z, public) = (&fields[0], &fields[1]);
    let kms = KmsPublicKey::from_bytes(public).unwrap();
    let wolf_rsk = wolf.ok("sakke-rsk", &[z, public, ALICE]).remove(0);
    let rsk = Rsk::from_bytes(&wolf_rsk).unwrap();
    assert_eq!(rsk.validate(&kms, ALICE), Ok(()));
    assert_eq!(rsk.validate(&kms, BOB), Err(SchemeError::Crypto));
    let ours = KmsMasterKey::from_bytes(z).unwrap();
    assert_eq!(ours.public_key(), kms);
    assert_eq!(ours.issue_rsk(ALICE).unwrap().to_bytes().to_vec(), wolf_rsk);

    // Conclave's KMS: wolfSSL validates its RSK, and not for another identity.
    let master = KmsMasterKey::generate(&mut rng);
    let public = master.public_key().to_bytes();
    let rsk = master.issue_rsk(BOB).unwrap().to_bytes();
    assert!(wolf.yes("sakke-validate", &[&public, BOB, &rsk]));
    assert!(!wolf.yes("sakke-validate", &[&public, ALICE, &rsk]));
}

#[test]
fn conclave_encapsulations_open_in_wolfssl() {
    let mut wolf = Wolf::start();
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let master = KmsMasterKey::generate(&mut rng);
    let kms = master.public_key();
    let public = kms.to_bytes();
    let rsk = master.issue_rsk(ALICE).unwrap().to_bytes();
    for _ in 0..3 {
        let (ssv, sed) = encapsulate(&mut rng, &kms, ALICE).unwrap();
        let sed = sed.to_bytes();
        assert_eq!(
            wolf.ok("sakke-derive", &[&public, ALICE, &rsk, &sed])[0],
            ssv.as_bytes()
        );
        // With wolfSSL's RSK table too.
        let line = format!(
            "sakke-derive {} {} {} {} table",
            hex(&public),
            hex(ALICE),
            hex(&rsk),
            hex(&sed)
        );
        writeln!(wolf.stdin, "{line}").unwrap();
        let mut reply = String::new();
        wolf.stdout.read_line(&mut reply).unwrap();
        assert_eq!(reply.trim(), format!("ok {}", hex(ssv.as_bytes())));
        // Encapsulation is deterministic in the SSV: wolfSSL computes the same bytes.
        assert_eq!(
            wolf.ok("sakke-encap", &[&public, ALICE, ssv.as_bytes()])[1],
            sed
        );
        // A flipped bit of H fails wolfSSL's re-encryption test.
        let mut tampered = sed;
        tampered[270] ^= 0x80;
        assert!(wolf
            .call("sakke-derive", &[&public, ALICE, &rsk, &tampered])
            .is_err());
        // So does the SED for another identity.
        let rsk_bob = master.issue_rsk(BOB).unwrap().to_bytes();
        assert!(wolf
            .call("sakke-derive", &[&public, BOB, &rsk_bob, &sed])
            .is_err());
    }
}

#[test]
fn wolfssl_encapsulations_open_in_conclave() {
    let mut wolf = Wolf::start();
    let mut rng = ChaCha20Rng::seed_from_u64(3);

    // Keys from Conclave's KMS and from wolfSSL's.
    let master = KmsMasterKey::generate(&mut rng);
    let ours = (
        master.public_key().to_bytes().to_vec(),
        master.issue_rsk(BOB).unwrap().to_bytes().to_vec(),
    );
    let fields = wolf.ok("sakke-keygen", &[]);
    let theirs = (
        fields[1].clone(),
        wolf.ok("sakke-rsk", &[&fields[0], &fields[1], BOB])
            .remove(0),
    );

    for (public, rsk) in [ours, theirs] {
        let kms = KmsPublicKey::from_bytes(&public).unwrap();
        let plain = Receiver::new(&kms, BOB, Rsk::from_bytes(&rsk).unwrap()).unwrap();
        let prepared =
            Receiver::with_precomputation(&kms, BOB, Rsk::from_bytes(&rsk).unwrap()).unwrap();
        for _ in 0..2 {
            // wolfSSL draws the SSV.
            let fields = wolf.ok("sakke-encap", &[&public, BOB]);
            let (ssv, sed_bytes) = (&fields[0], &fields[1]);
            assert_eq!(sed_bytes.len(), 273);
            let sed = Sed::from_bytes(sed_bytes).unwrap();
            assert_eq!(plain.decapsulate(&sed).unwrap().as_bytes().to_vec(), *ssv);
            assert_eq!(
                prepared.decapsulate(&sed).unwrap().as_bytes().to_vec(),
                *ssv
            );
            let ssv = Ssv::new(ssv.as_slice().try_into().unwrap());
            assert_eq!(
                encapsulate_ssv(&kms, BOB, &ssv)
                    .unwrap()
                    .to_bytes()
                    .to_vec(),
                *sed_bytes
            );
        }
    }
}

#[test]
fn eccsi_signatures_verify_both_ways_with_either_kms() {
    let mut wolf = Wolf::start();
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let message = b"I_MESSAGE: group key for room 7, epoch 3";

    // Conclave's KMS issues Alice's key; wolfSSL's KMS issues Bob's.
    let ksak = Ksak::generate(&mut rng);
    let our_kpak = ksak.kpak();
    let (ssk, pvt) = ksak.issue(&mut rng, ALICE);
    let fields = wolf.ok("eccsi-keygen", &[]);
    let (wolf_ksak, wolf_kpak_bytes) = (fields[0].clone(), fields[1].clone());
    let wolf_kpak = Kpak::from_bytes(&wolf_kpak_bytes).unwrap();
    let fields = wolf.ok("eccsi-issue", &[&wolf_ksak, &wolf_kpak_bytes, BOB]);
    let (bob_ssk, bob_pvt) = (fields[0].clone(), fields[1].clone());

    let keys: [IssuedKey; 2] = [
        (
            our_kpak,
            ALICE,
            ssk.to_bytes().to_vec(),
            pvt.to_bytes().to_vec(),
        ),
        (wolf_kpak, BOB, bob_ssk, bob_pvt),
    ];
    for (kpak, id, ssk, pvt) in keys {
        let kpak_bytes = kpak.to_bytes();
        let key = SigningKey::new(
            &kpak,
            id,
            Ssk::from_bytes(&ssk).unwrap(),
            Pvt::from_bytes(&pvt).unwrap(),
        )
        .unwrap();

        // Conclave signs, wolfSSL verifies; a changed message or identity is refused.
        let signature = key.sign(&mut rng, message).to_bytes();
        assert!(wolf.yes("eccsi-verify", &[&kpak_bytes, id, message, &signature]));
        assert!(!wolf.yes(
            "eccsi-verify",
            &[&kpak_bytes, id, b"another message", &signature]
        ));
        let other: &[u8] = if id == ALICE { BOB } else { ALICE };
        assert!(!wolf.yes("eccsi-verify", &[&kpak_bytes, other, message, &signature]));

        // wolfSSL signs (after validating the pair itself), Conclave verifies.
        let theirs = wolf
            .ok("eccsi-sign", &[&kpak_bytes, id, &ssk, &pvt, message])
            .remove(0);
        let theirs = Signature::from_bytes(&theirs).unwrap();
        assert_eq!(eccsi::verify(&kpak, id, message, &theirs), Ok(()));
        assert_eq!(
            eccsi::verify(&kpak, id, b"another message", &theirs),
            Err(SchemeError::Crypto)
        );
        assert_eq!(
            eccsi::verify(&kpak, other, message, &theirs),
            Err(SchemeError::Crypto)
        );
    }

    // A signature under one KMS does not verify under the other (the untrusted-KMS case).
    let signature = SigningKey::new(&our_kpak, ALICE, ssk, pvt)
        .unwrap()
        .sign(&mut rng, message);
    assert!(!wolf.yes(
        "eccsi-verify",
        &[&wolf_kpak.to_bytes(), ALICE, message, &signature.to_bytes()]
    ));
    assert_eq!(
        eccsi::verify(&wolf_kpak, ALICE, message, &signature),
        Err(SchemeError::Crypto)
    );
}
