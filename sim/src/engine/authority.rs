//! The oracle's experiments on the organisations' credential authorities (an identity-based
//! scheme's KMSs): a KMS reading rooms through escrow, an untrusted KMS impersonating a user
//! of another organisation, and a removed member holding its keys of the current period.

use conclave_schemes::{MsgId, RoomId};

use super::{scheme_err, Engine, EngineError};
use crate::oracle::{Adversary, Property};
use crate::rng;

/// Stored records per room a KMS tries with the secret it derived.
const KMS_TRIES: usize = 5;

impl Engine<'_> {
    /// The end-of-run experiments on the authorities.
    pub(super) fn authority_experiments(&mut self) -> Result<(), EngineError> {
        self.kms_reads_rooms();
        self.untrusted_kms()?;
        self.removed_member_overhears()?;
        self.leaked_member_updates()
    }

    /// Each room whose current secret a KMS derived from relayed traffic: the KMS opens the
    /// stored records of that epoch with it. Oracle work: not charged.
    fn kms_reads_rooms(&mut self) {
        if !self.stack.kd.properties().authority_can_derive {
            let kd = self.spec.kd.clone();
            self.oracle
                .adversary_not_applicable(Adversary::KmsPlusServers, || {
                    format!("`{kd}`'s authorities are directories of public keys: they hold no secret to derive keys with")
                });
            return;
        }
        for r in 0..self.rooms.len() {
            let room = RoomId(r as u32);
            let Some((epoch, secret)) = self.rooms[r].escrowed.clone() else {
                continue;
            };
            let ids: Vec<MsgId> = self.rooms[r]
                .messages
                .values()
                .filter(|m| m.stored && m.epoch == epoch)
                .take(KMS_TRIES)
                .map(|m| m.id)
                .collect();
            for id in ids {
                let Some(sealed) = self.stack.pre.stored(room, id) else {
                    continue;
                };
                let opens = self.try_open(
                    self.adversary,
                    room,
                    id,
                    &sealed,
                    Some((epoch, secret.clone())),
                );
                self.oracle.adversary(Adversary::KmsPlusServers, opens, || {
                    if opens {
                        format!("a KMS derived the secret of {room} {epoch} from an I_MESSAGE the key server relayed to one of its users (escrow by design) and opened {id} stored by the message server")
                    } else {
                        format!("a KMS derived the secret of {room} {epoch} but {id} stored by the message server did not open with it")
                    }
                });
            }
        }
    }

    /// An authority nobody trusts issues credentials for a user of another organisation, in a
    /// system of its own ([`conclave_schemes::kd::impersonate`]).
    fn untrusted_kms(&mut self) -> Result<(), EngineError> {
        let mut rng = rng::crypto(self.seed, "untrusted authority", 0);
        let kd = self.spec.kd.clone();
        let outcome =
            self.stack
                .kd
                .impersonation(&mut rng)
                .map_err(scheme_err(&kd, self.now, || {
                    "an untrusted authority impersonating a user".to_owned()
                }))?;
        let Some(outcome) = outcome else {
            self.oracle.adversary_not_applicable(Adversary::UntrustedKms, || {
                format!("`{kd}`'s authorities issue no credentials: each organisation's directory vouches for its users' public keys")
            });
            return Ok(());
        };
        let accepted = outcome.accepted();
        self.oracle.adversary(Adversary::UntrustedKms, accepted, || {
            match (accepted, outcome.refusals.first()) {
                (true, _) => "a member accepted the key an untrusted authority's credentials for another organisation's user sent in that user's name".to_owned(),
                (false, Some((u, e))) => format!("an untrusted authority issued credentials for a user of another organisation; {u} refused the key sent in that user's name: {e}"),
                (false, None) => "an untrusted authority issued credentials for a user of another organisation; no member took the key sent in that user's name".to_owned(),
            }
        });
        Ok(())
    }

    /// A removed member with its current credentials overhears the change that removed it, in
    /// a system of its own ([`conclave_schemes::kd::overhear`]).
    fn removed_member_overhears(&mut self) -> Result<(), EngineError> {
        let mut rng = rng::crypto(self.seed, "removed member overhears", 0);
        let kd = self.spec.kd.clone();
        let outcome = self
            .stack
            .kd
            .removed_member_overhears(&mut rng)
            .map_err(scheme_err(&kd, self.now, || {
                "a removed member overhearing its removal".to_owned()
            }))?;
        let exposed = outcome.exposed();
        let periods = if self.stack.kd.issues_per_period() {
            " and its keys of the current period"
        } else {
            ""
        };
        self.oracle.adversary(Adversary::RemovedMemberOverhears, exposed, || {
            if exposed {
                format!("a removed member, with what it kept{periods}, took the new epoch secret from a copy of the change that removed it")
            } else {
                format!("a removed member, with what it kept{periods}, handled {} copies of the change that removed it ({} refused) and did not get the new epoch secret", outcome.copies, outcome.refused)
            }
        });
        Ok(())
    }

    /// A member's whole state leaks and the member then updates, in a system of its own
    /// ([`conclave_schemes::kd::compromise`]): checked where the scheme claims post-compromise
    /// security. Elsewhere the experiment would only test the client's refusal of a message
    /// that skips an epoch, which an attacker holding the member's long-term keys need not
    /// respect, so it is not run.
    fn leaked_member_updates(&mut self) -> Result<(), EngineError> {
        if !self.stack.kd.properties().heals_after_update {
            return Ok(());
        }
        let mut rng = rng::crypto(self.seed, "leaked member updates", 0);
        let kd = self.spec.kd.clone();
        let outcome = self
            .stack
            .kd
            .leaked_member_updates(&mut rng)
            .map_err(scheme_err(&kd, self.now, || {
                "a member whose state leaked making an update".to_owned()
            }))?;
        let exposed = outcome.exposed();
        self.oracle.check(Property::HealsAfterUpdate, !exposed, || {
            format!(
                "a copy of a member's leaked state, handed {} messages addressed to the member after its update ({} refused), derived the members' later epoch secret",
                outcome.copies, outcome.refused
            )
        });
        Ok(())
    }
}
