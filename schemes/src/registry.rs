//! Scheme names, as scenario files and reports spell them, mapped to constructors.

use crate::erased::{history_system, kd_system, sse_system, DynHistory, DynKd, DynSse};
use crate::kd::{
    conventional::Conventional, mkd::Mkd, pairwise_dh::PairwiseDh, sender_keys::SenderKeys,
    KeyDistribution,
};
use crate::pre::{
    afgh::{Afgh, AfghHybrid},
    bbs98::Bbs98,
    client_rewrap::ClientRewrap,
    epoch_keys::EpochKeys,
    keyhom::KeyHom,
    none::NoProtection,
    HistoryProtection,
};
use crate::sse::{
    mitra::Mitra, per_epoch::PerEpoch, plaintext::PlaintextIndex, rekey_index::RekeyIndex,
    SearchableEncryption,
};
use crate::{CryptoRngCore, SchemeError};

/// The three scheme families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// Group key distribution.
    KeyDistribution,
    /// History protection.
    History,
    /// Searchable encryption.
    Search,
}

impl Family {
    /// The key used for this family in scenario files (`kd`, `pre`, `sse`).
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Self::KeyDistribution => "kd",
            Self::History => "pre",
            Self::Search => "sse",
        }
    }
}

/// A registered scheme.
#[derive(Debug, Clone, Copy)]
pub struct SchemeInfo {
    /// Its family.
    pub family: Family,
    /// Its name.
    pub name: &'static str,
    /// One line describing it.
    pub summary: &'static str,
}

type KdCtor = fn(&mut dyn CryptoRngCore) -> Result<Box<dyn DynKd>, SchemeError>;
type HistoryCtor = fn() -> Box<dyn DynHistory>;
type SseCtor = fn() -> Box<dyn DynSse>;

const fn kd_entry<K: KeyDistribution>() -> (SchemeInfo, KdCtor) {
    (
        SchemeInfo {
            family: Family::KeyDistribution,
            name: K::NAME,
            summary: K::SUMMARY,
        },
        kd_system::<K>,
    )
}

const fn history_entry<H: HistoryProtection>() -> (SchemeInfo, HistoryCtor) {
    (
        SchemeInfo {
            family: Family::History,
            name: H::NAME,
            summary: H::SUMMARY,
        },
        history_system::<H>,
    )
}

const fn sse_entry<S: SearchableEncryption>() -> (SchemeInfo, SseCtor) {
    (
        SchemeInfo {
            family: Family::Search,
            name: S::NAME,
            summary: S::SUMMARY,
        },
        sse_system::<S>,
    )
}

const KD: &[(SchemeInfo, KdCtor)] = &[
    kd_entry::<Conventional>(),
    kd_entry::<PairwiseDh>(),
    kd_entry::<SenderKeys>(),
    kd_entry::<Mkd>(),
];
const HISTORY: &[(SchemeInfo, HistoryCtor)] = &[
    history_entry::<NoProtection>(),
    history_entry::<EpochKeys>(),
    history_entry::<ClientRewrap>(),
    history_entry::<Bbs98>(),
    history_entry::<KeyHom>(),
    history_entry::<Afgh>(),
    history_entry::<AfghHybrid>(),
];
const SSE: &[(SchemeInfo, SseCtor)] = &[
    sse_entry::<PlaintextIndex>(),
    sse_entry::<RekeyIndex>(),
    sse_entry::<PerEpoch>(),
    sse_entry::<Mitra>(),
];

/// Every registered scheme, family by family, in registration order.
#[must_use]
pub fn all() -> Vec<SchemeInfo> {
    KD.iter()
        .map(|(i, _)| *i)
        .chain(HISTORY.iter().map(|(i, _)| *i))
        .chain(SSE.iter().map(|(i, _)| *i))
        .collect()
}

/// Names registered for `family`.
#[must_use]
pub fn names(family: Family) -> Vec<&'static str> {
    all()
        .into_iter()
        .filter(|i| i.family == family)
        .map(|i| i.name)
        .collect()
}

/// A fresh key-distribution system by name.
///
/// # Errors
/// [`SchemeError::Unsupported`] for an unknown name; otherwise as the scheme's setup.
pub fn kd(name: &str, rng: &mut dyn CryptoRngCore) -> Result<Box<dyn DynKd>, SchemeError> {
    match KD.iter().find(|(i, _)| i.name == name) {
        Some((_, ctor)) => ctor(rng),
        None => Err(SchemeError::Unsupported("unknown key-distribution scheme")),
    }
}

/// A fresh history-protection system by name.
///
/// # Errors
/// [`SchemeError::Unsupported`] for an unknown name.
pub fn history(name: &str) -> Result<Box<dyn DynHistory>, SchemeError> {
    HISTORY
        .iter()
        .find(|(i, _)| i.name == name)
        .map(|(_, ctor)| ctor())
        .ok_or(SchemeError::Unsupported(
            "unknown history-protection scheme",
        ))
}

/// A fresh searchable-encryption system by name.
///
/// # Errors
/// [`SchemeError::Unsupported`] for an unknown name.
pub fn sse(name: &str) -> Result<Box<dyn DynSse>, SchemeError> {
    SSE.iter()
        .find(|(i, _)| i.name == name)
        .map(|(_, ctor)| ctor())
        .ok_or(SchemeError::Unsupported(
            "unknown searchable-encryption scheme",
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_per_family() {
        for f in [Family::KeyDistribution, Family::History, Family::Search] {
            let mut n = names(f);
            let len = n.len();
            n.sort_unstable();
            n.dedup();
            assert_eq!(n.len(), len, "{f:?}");
        }
        assert!(history("none").is_ok());
        assert!(sse("plaintext").is_ok());
        assert!(matches!(sse("nope"), Err(SchemeError::Unsupported(_))));
    }
}
