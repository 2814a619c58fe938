//! Epoch secrets and the key schedule derived from them.

use hkdf::Hkdf;
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{Epoch, RoomId};

/// The 32-byte secret every current member of a room holds for the current epoch.
///
/// History protection and search derive their keys from it with HKDF-SHA-256 under distinct
/// [`Label`]s, bound to the room and the epoch, so keys of different families, rooms and epochs
/// are independent. Zeroised on drop; `Debug` does not print it; compared in constant time.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct EpochSecret([u8; 32]);

impl ConstantTimeEq for EpochSecret {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

/// In constant time: comparing secrets must not leak how many leading bytes agree.
impl PartialEq for EpochSecret {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for EpochSecret {}

/// Purposes a key can be derived for; each is a distinct HKDF `info` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// Message keys of history protection schemes.
    MessageKey,
    /// Wrapping keys of history protection headers.
    HeaderWrap,
    /// Keys of searchable-encryption indexes.
    SearchIndex,
    /// State blobs a stateless terminal stores on the server.
    StateBlob,
    /// Anything scheme specific; the string keeps it apart from other uses.
    Custom(&'static str),
}

impl Label {
    /// The `info` prefix of this label.
    pub(crate) fn as_bytes(&self) -> &'static [u8] {
        match self {
            Self::MessageKey => b"conclave message key",
            Self::HeaderWrap => b"conclave header wrap",
            Self::SearchIndex => b"conclave search index",
            Self::StateBlob => b"conclave state blob",
            Self::Custom(s) => s.as_bytes(),
        }
    }
}

impl EpochSecret {
    /// Wraps 32 bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh uniformly random secret.
    pub fn random(rng: &mut dyn crate::CryptoRngCore) -> Self {
        let mut b = [0u8; 32];
        rng.fill_bytes(&mut b);
        Self(b)
    }

    /// The secret's bytes. Handle with care: anything that copies them is key material.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Derives a 32-byte key for `label`, bound to `room` and `epoch`
    /// (HKDF-SHA-256, salt-less extract, `info = label || room || epoch`).
    #[must_use]
    pub fn derive(&self, label: Label, room: RoomId, epoch: Epoch) -> [u8; 32] {
        let hk = Hkdf::<Sha256>::new(None, &self.0);
        let mut out = [0u8; 32];
        let room = room.0.to_be_bytes();
        let epoch = epoch.0.to_be_bytes();
        let info: [&[u8]; 3] = [label.as_bytes(), &room, &epoch];
        // 32 bytes is far below HKDF-SHA-256's 8160-byte limit, so expand cannot fail.
        if hk.expand_multi_info(&info, &mut out).is_err() {
            unreachable!("HKDF output length 32 is always valid");
        }
        out
    }
}

/// `Debug` for a type that holds secrets, written `name, Type<Param: Bound> { fields }`: the
/// name, then only the fields listed (one followed by `.len()` shows its length) and `..`, so
/// that no secret reaches a log.
macro_rules! debug_without_secrets {
    (
        $name:literal,
        $ty:ident $(<$($param:ident $(: $bound:path)?),+>)?
        { $($field:ident $(.$len:ident())?),* $(,)? }
    ) => {
        impl $(<$($param $(: $bound)?),+>)? core::fmt::Debug for $ty $(<$($param),+>)? {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct($name)
                    $(.field(stringify!($field), &self.$field $(.$len())?))*
                    .finish_non_exhaustive()
            }
        }
    };
}
pub(crate) use debug_without_secrets;

debug_without_secrets!("EpochSecret", EpochSecret {});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivations_are_separated() {
        let s = EpochSecret::from_bytes([7; 32]);
        let a = s.derive(Label::MessageKey, RoomId(1), Epoch(2));
        assert_ne!(a, s.derive(Label::SearchIndex, RoomId(1), Epoch(2)));
        assert_ne!(a, s.derive(Label::MessageKey, RoomId(2), Epoch(2)));
        assert_ne!(a, s.derive(Label::MessageKey, RoomId(1), Epoch(3)));
        assert_eq!(a, s.derive(Label::MessageKey, RoomId(1), Epoch(2)));
    }

    #[test]
    fn secrets_compare_in_constant_time() {
        fn constant_time<T: ConstantTimeEq + Eq>() {}
        constant_time::<EpochSecret>();
        let mut last_differs = [7; 32];
        last_differs[31] = 8;
        let s = EpochSecret::from_bytes([7; 32]);
        assert_eq!(s, EpochSecret::from_bytes([7; 32]));
        assert_ne!(s, EpochSecret::from_bytes(last_differs));
        assert!(bool::from(s.ct_eq(&EpochSecret::from_bytes([7; 32]))));
    }

    #[test]
    fn debug_shows_only_the_fields_listed() {
        struct Holder {
            room: RoomId,
            keys: Vec<[u8; 32]>,
            secret: [u8; 32],
        }
        debug_without_secrets!("Holder", Holder { room, keys.len() });
        let holder = Holder {
            room: RoomId(7),
            keys: vec![[1; 32]; 3],
            secret: [9; 32],
        };
        assert_eq!(
            format!("{holder:?}"),
            "Holder { room: RoomId(7), keys: 3, .. }"
        );
        assert_eq!(holder.secret, [9; 32]);
        let secret = EpochSecret::from_bytes([7; 32]);
        assert_eq!(format!("{secret:?}"), "EpochSecret { .. }");
    }
}
