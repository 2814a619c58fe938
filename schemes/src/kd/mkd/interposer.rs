//! The substitution attack of an active DMKD key server (the module doc's security section):
//! the server relays its own share `g^x` in place of every neighbour's share of a session in
//! which every ring link is new (room creation, Dist). Each member `q` then derives both its link
//! values as `R_q^x`, which the server computes from the member's own share; its two link keys
//! are equal, so `T_q = 0` and the server's telescoping check still holds. Knowing every link
//! key, the server opens the representative's `T'` to `(k_1, s_1)`, forges each member's prefix
//! XOR so that it recovers the representative's `K_1^l` (hence the genuine `k_1`, which opens
//! `c_1`), and derives `SK` from `K_1`, `k'` and `sid`, all its own. Every member completes the
//! change without noticing.
//!
//! Sessions with a stored link (Join, Leave) are relayed honestly: a stored link value is one
//! the server never saw, so the attack is only run where it works.
//!
//! This exists so that the security table can show the attack (it is reached only through
//! [`KeyDistribution::new_interposing_server`](crate::kd::KeyDistribution::new_interposing_server));
//! the ordinary server never substitutes.

use std::collections::BTreeMap;

use curve25519_dalek::Scalar;
use zeroize::Zeroize;

use super::client::session_key;
use super::group;
use super::prf::{self, V, V_LEN};
use super::P;
use crate::pre::dl_group::DlGroup;
use crate::{CryptoRngCore, Epoch, EpochSecret, RoomId, SchemeError};

/// The attacker's substitute share and what it learned.
pub(super) struct Interposer<G: DlGroup> {
    x: Scalar,
    share: [u8; P],
    learned: BTreeMap<RoomId, (Epoch, EpochSecret)>,
    group: core::marker::PhantomData<G>,
}

impl<G: DlGroup> Drop for Interposer<G> {
    fn drop(&mut self) {
        self.x.zeroize();
    }
}

impl<G: DlGroup> Interposer<G> {
    pub(super) fn new(rng: &mut dyn CryptoRngCore) -> Self {
        let mut wide = [0u8; 64];
        rng.fill_bytes(&mut wide);
        let x = group::scalar_wide(&wide);
        wide.zeroize();
        Self {
            share: group::g_pow::<G>(&x),
            x,
            learned: BTreeMap::new(),
            group: core::marker::PhantomData,
        }
    }

    /// The share relayed in place of every neighbour's.
    pub(super) fn share(&self) -> [u8; P] {
        self.share
    }

    /// The link key both of whose link values are `R^x`: what a member with share `r_share`
    /// derives for each of its links once its neighbours' shares were substituted.
    pub(super) fn link_key(&self, sid: &[u8; 32], r_share: &[u8; P]) -> Result<V, SchemeError> {
        let mut h = group::pow::<G>(r_share, &self.x)?;
        let k = prf::f(sid, &h);
        h.zeroize();
        Ok(k)
    }

    /// The prefix XOR that makes a member whose left link key is `own_left` recover the
    /// representative's `rep_left` (a member computes `K_1^l = T'_q ⊕ K_q^l`).
    pub(super) fn forged_prefix(rep_left: &V, own_left: &V) -> V {
        prf::xor64(rep_left, own_left)
    }

    /// Opens the representative's `T' = K_1^l ⊕ (k_1 ‖ s_1)` with its left link key and
    /// derives the session key `SK = F''(sid, K_1) ⊕ F''(sid, F'(sid, k' ⊕ k_1))` every member
    /// will hold.
    pub(super) fn learn(
        &mut self,
        room: RoomId,
        epoch: Epoch,
        sid: &[u8; 32],
        (t_prime, rep_left): (&V, &V),
        k_prime: &[u8; 32],
        big_k1: &[u8; 32],
    ) {
        let mut ks: [u8; V_LEN] = prf::xor64(t_prime, rep_left);
        let mut k1 = [0u8; 32];
        k1.copy_from_slice(&ks[..32]);
        ks.zeroize();
        let mut x = prf::xor32(k_prime, &k1);
        k1.zeroize();
        let mut big_k2 = prf::f1(sid, &x);
        x.zeroize();
        let (secret, _) = session_key::<G>(sid, big_k1, &big_k2);
        big_k2.zeroize();
        self.learned.insert(room, (epoch, secret));
    }

    /// Drops what was learned of `room`: its epoch moved on without the attack.
    pub(super) fn forget(&mut self, room: RoomId) {
        self.learned.remove(&room);
    }

    pub(super) fn learned(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        self.learned.get(&room).map(|(e, s)| (*e, s))
    }
}
