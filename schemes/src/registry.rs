//! Scheme names, as scenario files and reports spell them, mapped to constructors: the
//! [`Registry`] a run picks its schemes from.

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

/// A scheme added to a [`Registry`] under a name its family already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{} scheme `{name}` is registered already", family.key())]
pub struct DuplicateScheme {
    /// The family.
    pub family: Family,
    /// The name registered twice.
    pub name: &'static str,
}

/// The schemes a run can pick by name: [`Registry::builtin`] holds this crate's, and the
/// `with_*` methods add others (a researcher's scheme, or a deliberately broken one in a test
/// of the oracle). Names are unique per family: adding a name the family already has is a
/// [`DuplicateScheme`] error, never a silent replacement, so a stack's name always means one
/// scheme.
#[derive(Clone)]
pub struct Registry {
    kd: Vec<(SchemeInfo, KdCtor)>,
    history: Vec<(SchemeInfo, HistoryCtor)>,
    sse: Vec<(SchemeInfo, SseCtor)>,
}

impl core::fmt::Debug for Registry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list()
            .entries(self.all().iter().map(|i| i.name))
            .finish()
    }
}

fn add<C>(
    entries: &mut Vec<(SchemeInfo, C)>,
    entry: (SchemeInfo, C),
) -> Result<(), DuplicateScheme> {
    let info = entry.0;
    if entries.iter().any(|(i, _)| i.name == info.name) {
        return Err(DuplicateScheme {
            family: info.family,
            name: info.name,
        });
    }
    entries.push(entry);
    Ok(())
}

impl Registry {
    /// Every scheme this crate implements.
    #[must_use]
    pub fn builtin() -> Self {
        Self {
            kd: KD.to_vec(),
            history: HISTORY.to_vec(),
            sse: SSE.to_vec(),
        }
    }

    /// This registry with key-distribution scheme `K` added after the others.
    ///
    /// # Errors
    /// [`DuplicateScheme`] if a key-distribution scheme named `K::NAME` is registered already.
    pub fn with_kd<K: KeyDistribution>(mut self) -> Result<Self, DuplicateScheme> {
        add(&mut self.kd, kd_entry::<K>())?;
        Ok(self)
    }

    /// This registry with history-protection scheme `H` added after the others.
    ///
    /// # Errors
    /// [`DuplicateScheme`] if a history-protection scheme named `H::NAME` is registered already.
    pub fn with_history<H: HistoryProtection>(mut self) -> Result<Self, DuplicateScheme> {
        add(&mut self.history, history_entry::<H>())?;
        Ok(self)
    }

    /// This registry with searchable-encryption scheme `S` added after the others.
    ///
    /// # Errors
    /// [`DuplicateScheme`] if a searchable-encryption scheme named `S::NAME` is registered
    /// already.
    pub fn with_sse<S: SearchableEncryption>(mut self) -> Result<Self, DuplicateScheme> {
        add(&mut self.sse, sse_entry::<S>())?;
        Ok(self)
    }

    /// Every registered scheme, family by family, in registration order.
    #[must_use]
    pub fn all(&self) -> Vec<SchemeInfo> {
        self.kd
            .iter()
            .map(|(i, _)| *i)
            .chain(self.history.iter().map(|(i, _)| *i))
            .chain(self.sse.iter().map(|(i, _)| *i))
            .collect()
    }

    /// Names registered for `family`, in registration order.
    #[must_use]
    pub fn names(&self, family: Family) -> Vec<&'static str> {
        self.all()
            .into_iter()
            .filter(|i| i.family == family)
            .map(|i| i.name)
            .collect()
    }

    /// A fresh key-distribution system by name.
    ///
    /// # Errors
    /// [`SchemeError::Unsupported`] for an unknown name; otherwise as the scheme's setup.
    pub fn kd(
        &self,
        name: &str,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Box<dyn DynKd>, SchemeError> {
        match self.kd.iter().find(|(i, _)| i.name == name) {
            Some((_, ctor)) => ctor(rng),
            None => Err(SchemeError::Unsupported("unknown key-distribution scheme")),
        }
    }

    /// A fresh history-protection system by name.
    ///
    /// # Errors
    /// [`SchemeError::Unsupported`] for an unknown name.
    pub fn history(&self, name: &str) -> Result<Box<dyn DynHistory>, SchemeError> {
        self.history
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
    pub fn sse(&self, name: &str) -> Result<Box<dyn DynSse>, SchemeError> {
        self.sse
            .iter()
            .find(|(i, _)| i.name == name)
            .map(|(_, ctor)| ctor())
            .ok_or(SchemeError::Unsupported(
                "unknown searchable-encryption scheme",
            ))
    }
}

/// [`Registry::all`] of [`Registry::builtin`].
#[must_use]
pub fn all() -> Vec<SchemeInfo> {
    Registry::builtin().all()
}

/// [`Registry::names`] of [`Registry::builtin`].
#[must_use]
pub fn names(family: Family) -> Vec<&'static str> {
    Registry::builtin().names(family)
}

/// [`Registry::kd`] of [`Registry::builtin`].
///
/// # Errors
/// As [`Registry::kd`].
pub fn kd(name: &str, rng: &mut dyn CryptoRngCore) -> Result<Box<dyn DynKd>, SchemeError> {
    Registry::builtin().kd(name, rng)
}

/// [`Registry::history`] of [`Registry::builtin`].
///
/// # Errors
/// As [`Registry::history`].
pub fn history(name: &str) -> Result<Box<dyn DynHistory>, SchemeError> {
    Registry::builtin().history(name)
}

/// [`Registry::sse`] of [`Registry::builtin`].
///
/// # Errors
/// As [`Registry::sse`].
pub fn sse(name: &str) -> Result<Box<dyn DynSse>, SchemeError> {
    Registry::builtin().sse(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::{
        Access, IndexChange, KeyView, RekeyingClient, RekeyingServer, Resolution, Searched,
        SseClient, SseServer,
    };
    use crate::{RoomId, UserId};

    /// A search scheme that finds nothing, to register beside the built-in ones.
    struct FindsNothing;
    #[derive(Default)]
    struct Nobody;

    impl SearchableEncryption for FindsNothing {
        const NAME: &'static str = "finds-nothing";
        const SUMMARY: &'static str = "answers every search with no results";
        const PROPERTIES: crate::sse::SseProperties = crate::sse::SseProperties {
            server_reads_keywords: false,
            forward_private: true,
        };
        type Update = Vec<u8>;
        type Query = Vec<u8>;
        type Reply = Vec<u8>;
        type Message = Vec<u8>;
        type Client = Nobody;
        type Server = Nobody;
        fn new_client(_: UserId) -> Nobody {
            Nobody
        }
    }

    impl RekeyingClient for Nobody {
        type Message = Vec<u8>;
    }

    impl RekeyingServer for Nobody {
        type Message = Vec<u8>;
        fn stored_len(&self) -> usize {
            0
        }
    }

    impl SseClient for Nobody {
        type Scheme = FindsNothing;
        fn update(
            &mut self,
            _: KeyView<'_>,
            _: IndexChange<'_>,
            _: &mut dyn CryptoRngCore,
        ) -> Result<Vec<u8>, SchemeError> {
            Ok(Vec::new())
        }
        fn query(
            &mut self,
            _: KeyView<'_>,
            _: &str,
            _: &mut dyn CryptoRngCore,
        ) -> Result<Vec<u8>, SchemeError> {
            Ok(Vec::new())
        }
        fn resolve(
            &mut self,
            _: KeyView<'_>,
            _: &str,
            _: &Vec<u8>,
            _: &mut dyn CryptoRngCore,
        ) -> Result<Resolution<Vec<u8>>, SchemeError> {
            Ok(Resolution::Done(Vec::new()))
        }
    }

    impl SseServer for Nobody {
        type Scheme = FindsNothing;
        fn apply(&mut self, _: RoomId, _: Vec<u8>) -> Result<(), SchemeError> {
            Ok(())
        }
        fn search(
            &self,
            _: RoomId,
            _: Access,
            _: &Vec<u8>,
        ) -> Result<Searched<Vec<u8>>, SchemeError> {
            Ok(Searched::Reply(Vec::new()))
        }
    }

    #[test]
    fn builtin_names_are_unique_per_family() {
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

    #[test]
    fn registry_adds_a_scheme_after_the_builtin_ones() {
        let builtin = Registry::builtin();
        assert!(builtin.sse("finds-nothing").is_err());
        let extended = builtin.clone().with_sse::<FindsNothing>().unwrap();
        let mut expected = builtin.names(Family::Search);
        expected.push("finds-nothing");
        assert_eq!(extended.names(Family::Search), expected);
        assert_eq!(
            extended.names(Family::History),
            builtin.names(Family::History)
        );
        let system = extended.sse("finds-nothing").unwrap();
        assert_eq!(system.name(), "finds-nothing");
        assert!(system.properties().forward_private);
        let info = extended.all().into_iter().last().unwrap();
        assert_eq!(
            (info.family, info.summary),
            (Family::Search, FindsNothing::SUMMARY)
        );
    }

    #[test]
    fn registry_refuses_a_name_twice() {
        let once = Registry::builtin().with_sse::<FindsNothing>().unwrap();
        let err = once.with_sse::<FindsNothing>().unwrap_err();
        assert_eq!(
            err,
            DuplicateScheme {
                family: Family::Search,
                name: "finds-nothing"
            }
        );
        assert_eq!(
            err.to_string(),
            "sse scheme `finds-nothing` is registered already"
        );
        let err = Registry::builtin().with_kd::<Conventional>().unwrap_err();
        assert_eq!(err.name, "conventional");
        let err = Registry::builtin().with_history::<EpochKeys>().unwrap_err();
        assert_eq!(err.family, Family::History);
    }
}
