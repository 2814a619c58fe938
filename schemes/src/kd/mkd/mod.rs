//! `mkd`: dynamic multi-cast key distribution (DMKD) of Yoneyama, Yoshida, Kawahara, Kobayashi,
//! Fuji and Yamamoto, "Multi-Cast Key Distribution: Scalable, Dynamic and Provably Secure
//! Construction", ProvSec 2016 (LNCS 10005), as reconstructed in research/mkd.md §1 from NTT's
//! SCIS 2018 KEM-based DMKD paper (Kinjo et al., 3A2-1) and the patents US 10,630,465 (Join),
//! US 10,355,856 / CN107637013A (Dist) and US 11,258,588 / EP 3509246 (ring indices).
//!
//! # Source
//!
//! The paper and patents above, through the reconstruction of research/mkd.md §1: Join and Leave
//! follow its "stored-H" reading (§1.8), the representative on Leave its §1.10, the Update its "K2
//! carried in state" (§1.8). CP-ABE is replaced by Boneh–Franklin IBE ([`ibe`]). Where the
//! reconstruction had to choose, and where this module departs from the paper, is listed under
//! Weaknesses.
//!
//! # Construction
//!
//! Members sit on a logical ring kept in a stable per-room order (creation order, joiners
//! appended). Every change runs two rounds through the key server:
//!
//! 1. each member sends a Pedersen commitment `c_i = g^{k_i} h^{s_i}` and, if one of its ring
//!    links is new, a fresh DH share `R_i = g^{r_i}` (`r_i, k_i, s_i` from the twisted PRF of fresh
//!    ephemerals and the member's static strings `st_i, st'_i`); the server sets
//!    `sid = TCR(room, epoch, (U_i, c_i)_i)` and relays the neighbours' shares;
//! 2. each member computes its link keys `K^l = F(sid, H^l)`, `K^r = F(sid, H^r)` (H = the link's
//!    DH value, fresh or stored) and sends `T_i = K^l ⊕ K^r`; the representative also sends
//!    `T' = K^l ⊕ (k_1 ‖ s_1)`, the others their openings `(k_j, s_j)`. The server checks the
//!    MACs, the openings and `⊕ T_i = 0`, and returns `k' = ⊕ k_j ⊕ k_S`, the prefix XOR `T'_j`,
//!    `T'`, `c_1` and `K_1` encrypted to `user ‖ time frame`. Members recover `K_1^l`, then
//!    `k_1 ‖ s_1` (checked against `c_1`), and derive `K_2 = F'(sid, k' ⊕ k_1)` and the epoch
//!    secret `SK = F''(sid, K_1) ⊕ F''(sid, K_2)`.
//!
//! The scheme is written once, generic over the provider of its cryptography
//! ([`MkdCrypto`]): [`Mkd`] is [`MkdWith`] over [`Real`] (Ristretto255, Boneh–Franklin IBE,
//! X25519 sealed boxes); its model ([`crate::model::mkd`]) is the same code over an ideal
//! provider, which replaces the group by its exponents, the IBE by ideal ciphertexts and the
//! sealed credentials by ideal boxes, and keeps the PRFs and MACs.
//!
//! Dist (room creation) refreshes every link. Join and Leave follow the "stored-H" reading of
//! research/mkd.md §1.8: only the endpoints of new ring links draw a fresh `R` and do a DH;
//! everyone else hashes its stored link values with the new `sid` and sends only a fresh
//! commitment and its round-2 values. The representative is the first member of the ring on
//! Dist and Join and, on Leave, the surviving left neighbour of the (first) leaver (§1.10).
//! A removed member's two links are replaced by a fresh link between its former neighbours, so its
//! stored values no longer reach any link key.
//!
//! The change is started by a member ([`KdClient::change`](super::KdClient::change) sends a MAC'd request to the server);
//! the server then tells every member its neighbours, which links are new and who represents the
//! ring (a `Begin` message, which a deployment would piggyback on the membership notification).
//!
//! A session's messages name its epoch and its *attempt*: a change whose session a member never
//! answered (it stayed offline) is superseded by the next change's session for the same epoch,
//! and the superseded session's late messages are recognised by their attempt number, never
//! mistaken for the new session's. The attempt is covered by the MACs.
//!
//! ## Time frames
//!
//! Per-frame credentials (the IBE key for `user ‖ frame` and the MAC key `mk_i` shared with the
//! server) reach each user sealed to its X25519 key with [`super::sealed_box`] (HPKE-auth-style
//! sealed box from the server's static X25519 key). The first frame's are issued at enrolment;
//! [`Server::new_time_frame`] issues the next frame's. The family trait has no clock, so frames
//! advance only when the caller asks.
//!
//! The same call then runs the **Update** of every room the server knows (research/mkd.md §1.8,
//! "K2 carried in state"). Per room the server draws a fresh `K_1^(t)` with its twisted PRF
//! and sends each member of the room's ring `Update = (room, epoch + 1, frame,
//! IBE.Enc(member ‖ frame, K_1^(t)))`, MAC'd under the member's new `mk`. The member checks
//! the MAC, the frame and that the epoch is exactly its own plus one, decrypts `K_1^(t)`, chains
//! `sid_t = TCR("update", room, epoch, frame, sid)` from its stored `sid`, and sets
//! `SK_t = F''(sid_t, K_1^(t)) ⊕ F''(sid_t, K_2)` and `r = F'''(sid_t, K_1^(t)) +
//! F'''(sid_t, K_2)` with the `K_2` stored at the room's last Dist/Join/Leave; it stores `sid_t`
//! and moves to the next epoch. The room's epoch advances on the server too, and the next
//! change continues from it. The outbox holds every user's `Credentials` first, then the
//! `Update`s, so delivery in order gives each member its new keys before its updates (an
//! Update that arrives before them fails its MAC).
//!
//! Members who were removed are not on the ring and get nothing, so they never see `K_1^(t)`,
//! and they lack the room's current `K_2` anyway. As the Update needs no member's reply, an
//! offline member does not stall it; one that misses it catches up at the room's next change
//! (once it has the frame's credentials). [`Server::new_time_frame`] is still refused while a change
//! is in progress in any room, and it uses the ring of each room's last completed change: a
//! removal the directory has made must have run its Leave first.
//!
//! # Costs
//!
//! A member's costs per change do not depend on the size of the room; the server's grow linearly
//! with it.
//!
//! ## Messages of one change (n members; sizes as metered by [`Wire`](crate::Wire))
//!
//! | step | direction | message | bytes |
//! |---|---|---|---|
//! | 0 | changer → server | `Request` | 34 |
//! | 0 | server → each member | `Begin` (epoch, attempt, frame, neighbours, link flags, representative) | 62 |
//! | 1 | each member → server | `Round1` (`c_i`, and `R_i` if a link is new) | 78, or 110 with `R_i` |
//! | 1 | server → each member | `Round1Reply` (`sid`, neighbours' fresh `R`) | 75 + 32 per relayed `R` |
//! | 2 | member → server | `Round2` (`k_j, s_j, T_j`) / representative: `Round2Rep` (`T_1, T'`) | 173 / 173 |
//! | 2 | server → member | `Final` (`c_1, k', T'_j, T', CT_j`) / representative: `FinalRep` (`k', CT_1`) | 329 / 169 |
//! | frame | server → each user | `Credentials` (IBE key and `mk`, sealed) | 185 |
//! | frame | server → each member of each room | `Update` (room, epoch, frame, `CT`) | 149 |
//!
//! Every message carries a 32-byte HMAC-SHA-256 tag (the sealed credentials an AEAD tag
//! instead). A member sends 2 messages and receives 3 per change whatever n is; the server
//! sends 3n and receives 2n + 1, and does n IBE encryptions and n − 1 opening checks.
//!
//! [`sizes`] gives each length as code ([`sizes::round1_len`] and [`sizes::round1_reply_len`]
//! by the member's new links) and what a change sends per direction
//! ([`sizes::session_traffic`]), what one member sends and receives in a session
//! ([`sizes::member_traffic`]: a session needs every member, so its cost is the sum over those
//! who took part) and what a time frame sends ([`sizes::time_frame_traffic`]). Which links are
//! new follows from the ring: all of them on a creation; on an add of k, the joiners' and
//! one link each of the first and the last member of the ring (k + 2 fresh shares); on a
//! removal, one link per run of adjacent leavers ([`sizes::NewLinks`]). The authority is the
//! directory, which issues nothing: the per-frame credentials come from the key server.
//! There is no rejoin and no per-message layer.
//!
//! Cost of an Update: no DH, no commitment and no message from the members. Each member
//! receives one 149-byte message per room and does one MAC check and one IBE decryption (one
//! pairing); the server does, per room of n members, one tPRF, n IBE encryptions and n MACs.
//!
//! ## What each party stores
//!
//! * Member, per room (208 B, [`KdClient::state_len`](super::KdClient::state_len) adds the 136 B
//!   of frame credentials): epoch, epoch secret, left and right neighbour, `H^(l)`, `H^(r)`, `r`,
//!   and, for the Update, the last `sid` and `K_2`.
//!   Per user: X25519 key pair, `st_i`, `st'_i`, frame, IBE key for `user ‖ frame`, `mk_i`.
//! * Server: IBE master key, `st_S`, `st'_S`, X25519 key pair, frame; per user its X25519 public
//!   key and `mk_i`; per room the epoch and the ring order. During a change also the round-1
//!   values, `sid`, the `T_j`, `T'` and the openings `(k_j, s_j)` of non-representatives.
//!
//! # Security
//!
//! As claimed by the paper; not re-proved here.
//!
//! The server and eavesdroppers learn nothing about `SK` (CDH on the ring links); a removed
//! member cannot derive later epoch secrets and a joiner cannot derive earlier ones; the values
//! `r_i, k_i, s_i` stay secret unless both the ephemeral and the static inputs of the twisted PRF
//! leak; `K_1` changes per session and is bound to the time frame.
//!
//! **The key server's blindness holds for an honest-but-curious server only.** The shares
//! `R_i` reach a member's neighbours through the server, authenticated only by MACs under keys
//! the server itself holds. An *active* key server substitutes its own share `g^{r*}` for a
//! neighbour's, so both link values of that link are `R_i^{r*}`, which it computes; knowing
//! every link key, it recovers `K_1` from `T'` and `K_2` from `k'`, hence `SK`. Identity shares, link
//! values and commitments are refused (they would fix a link value independently of the
//! member's secret), but nothing in DMKD as published stops a substitution: it needs shares
//! signed by the members' long-term keys, which the paper does not have.
//!
//! ## What the server sees and holds
//!
//! The server holds only its own secrets (IBE master key, `st_S`, `st'_S`, its X25519 key, the
//! per-user MAC keys) and public or protocol values: rings, commitments, DH shares, `T_i`, `T'`
//! and the openings `k_j, s_j` of non-representatives. It never holds any `r_i`, any pairwise DH
//! value, `k_1` or the epoch secret; `K_1` and `k_S` live only for the duration of the final step
//! (and `K_1^(t)` for that of a room's Update).
//! [`KdServer::known_epoch_secret`](super::KdServer::known_epoch_secret) is always `None`.
//!
//! # Weaknesses
//!
//! Known weaknesses, and deviations from the sources:
//!
//! * Reconstruction gaps (research/mkd.md §1.10): the SCIS 2018 typing is loose, so every PRF is
//!   HMAC-SHA-256/512 with its own label (`V = {0,1}^512`, `K_1`, `k_i`, `r` 32 B); `k_i` is a
//!   byte string reduced mod the group order inside the commitment; the role of the stored `r` in
//!   Join/Update is unresolved (it is computed and stored, `r = F'''(sid,K_1) + F'''(sid,K_2)` in
//!   Ristretto255, but not used); the exact Join/Leave message flow of the DH version is inferred.
//! * The Update is also inferred (the sources only say it "updates K_1 with the ABE
//!   algorithm"): it carries `K_2` itself in state and chains `sid_t` (binding the room, the new
//!   epoch and the frame) from the stored `sid`, a choice of ours. Its secrecy rests on the
//!   `K_2` of the room's last change and on the fresh `K_1^(t)`: whoever holds both a member's
//!   state (its `K_2` and its static X25519 key, which opens each new frame's IBE key) and that
//!   member's traffic can follow every Update until the next Join or Leave refreshes `K_2`; the
//!   server alone, which picks `K_1^(t)`, cannot. An Update gives no post-compromise security
//!   against such a state thief.
//! * The server→user and user→server channels are MAC-authenticated only: the server (and a
//!   network observer) sees every `T_i`, `T'` and every `k_j` with `j` not the representative.
//! * CP-ABE is replaced by Boneh–Franklin IBE with identity `user ‖ time frame` (see [`ibe`],
//!   including its cost difference and that arkworks is not constant time).
//! * `sid` additionally binds the room, the epoch and the ring order (the paper hashes only the
//!   commitments); MACs additionally cover round 1 and the server's round-1 reply.
//! * Stored-H links give no forward secrecy for a link until one of its endpoints' neighbours
//!   changes: whoever steals a member's state can follow its links (the paper's freshness
//!   definition forbids StateReveal of the current state for the same reason).
//! * Offline members cannot be skipped: every change needs every member's round-1 and round-2
//!   contributions, so one unresponsive member stalls the room's re-key.
//! * A `Request` while a session is pending aborts the pending session and starts a new one. The
//!   request's MAC binds the room and the change kind but no nonce, so it can be replayed (the
//!   effect is an extra re-key); its kind is informational: the new ring follows from the roster.
//! * A member or server that fails a check returns an error and the change stalls; the server
//!   drops a session whose `T` values do not XOR to zero, and a new request restarts the change.
//!
//! # Side channels
//!
//! * The Boneh–Franklin IBE ([`ibe`]) runs on arkworks (0.5), which makes no constant-time
//!   claims: its scalar multiplications with `s` and `t` and the pairing with `d_ID` may leak
//!   through timing. Acceptable for a simulation, not for deployment.
//! * The Ristretto255 operations (DH shares, link values, commitments) are curve25519-dalek's
//!   constant-time ones, except the server's check of the non-representatives' openings, a
//!   variable-time multiscalar multiplication on values it holds anyway. A member checks the
//!   representative's `(k_1, s_1)`, which the server never holds and from which `K_2` is
//!   derived, in constant time (the commitment recomputed and compared with `subtle`).
//! * The PRFs, the MAC and `TCR` (HMAC-SHA-256/512, SHA-256) and the sealed credentials (X25519,
//!   HKDF-SHA-256, ChaCha20-Poly1305) are constant time (RustCrypto, curve25519-dalek).

mod client;
mod group;
pub mod ibe;
mod interposer;
mod message;
mod prf;
mod server;
pub mod sizes;

use core::marker::PhantomData;

use super::provider::{MkdCrypto, Real};
use super::{DirectoryAuthority, KdProperties, KeyDistribution};
use crate::{CryptoRngCore, SchemeError, UserId};

#[cfg(any(test, feature = "testing"))]
pub use client::Corruption;
pub use client::{Client, ClientOps};
pub use message::{ChangeKind, Message, Seat};
pub use prf::{Tag, V};
pub use server::{Server, ServerOps};

/// Length of a Ristretto255 point or scalar.
const P: usize = 32;

/// A DH share `R = g^r`, present only where a ring link is new.
type Share = Option<[u8; P]>;

/// The DMKD scheme over crypto provider `C`: [`Mkd`] with real cryptography, its model
/// ([`crate::model::mkd`]) with ideal objects.
#[derive(Debug, Clone, Copy, Default)]
pub struct MkdWith<C>(PhantomData<C>);

/// The DMKD scheme.
pub type Mkd = MkdWith<Real>;

/// A user's public credential is pairwise-dh's, its static public key, to which the server
/// seals per-frame credentials.
pub use super::pairwise_dh::Credential;

impl<C: MkdCrypto> KeyDistribution for MkdWith<C> {
    const NAME: &'static str = "mkd";
    const SUMMARY: &'static str = if C::IDEAL {
        "model of mkd: its ring, rounds and checks, with ideal IBE, boxes and group (no pairing, no curve)"
    } else {
        "DMKD (Yoneyama et al. 2016): DH ring through the key server, O(1) per member, server blind"
    };
    const PROPERTIES: KdProperties = KdProperties {
        server_knows_epoch_secret: false,
        removal_excludes: true,
        join_excludes_past: true,
        authority_can_derive: false,
        layer_hides_history_from_joiners: false,
        heals_after_update: false,
        rejoins: false,
    };
    type Credential = Credential<C>;
    type Message = Message<C>;
    type Client = Client<C>;
    type Server = Server<C>;
    type Authority = DirectoryAuthority<Self>;

    fn new_server(rng: &mut dyn CryptoRngCore) -> Result<Server<C>, SchemeError> {
        Ok(Server::new(rng))
    }

    fn new_interposing_server(
        rng: &mut dyn CryptoRngCore,
    ) -> Option<Result<Server<C>, SchemeError>> {
        Some(Ok(Server::new_interposing(rng)))
    }

    fn enroll(
        server: &mut Server<C>,
        _authority: &mut DirectoryAuthority<Self>,
        user: UserId,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(Client<C>, Credential<C>), SchemeError> {
        let keypair = C::generate(rng);
        let public = C::public(&keypair);
        let sealed = server.register(user, public, rng)?;
        let client = Client::provision(
            user,
            keypair,
            server.x25519_public(),
            server.frame(),
            &sealed,
            rng,
        )?;
        Ok((client, Credential(public)))
    }
}
