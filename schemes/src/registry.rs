//! Scheme names, as scenario files and reports spell them, mapped to constructors: the
//! [`Registry`] a run picks its schemes from.

use crate::erased::{
    history_system, kd_system, modelled_kd_system, sse_system, DynHistory, DynKd, DynSse,
};
use crate::kd::{
    conventional::Conventional, mkd::Mkd, mls::Mls, pairwise_dh::PairwiseDh, sakke::Sakke,
    sender_keys::SenderKeys, KeyDistribution,
};
use crate::model::ideal_cipher::Ideal;
use crate::model::mkd::MkdModel;
use crate::model::mls::MlsModel;
use crate::model::pairwise_dh::PairwiseDhModel;
use crate::model::sakke::SakkeModel;
use crate::model::sender_keys::SenderKeysModel;
use crate::pre::{
    afgh::{groups::Exponents as PairingExponents, Afgh, AfghHybrid, AfghHybridIn, AfghIn},
    bbs98::{Bbs98, Bbs98In},
    client_rewrap::{ClientRewrap, ClientRewrapWith},
    dl_group::Exponents,
    epoch_keys::{EpochKeys, EpochKeysWith},
    keyhom::{KeyHom, KeyHomIn},
    none::NoProtection,
    HistoryProtection,
};
use crate::sse::{
    mitra::{Mitra, MitraWith},
    per_epoch::{PerEpoch, PerEpochWith},
    plaintext::PlaintextIndex,
    rekey_index::{RekeyIndex, RekeyIndexIn},
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
    /// For a key-distribution scheme, [`KeyDistribution::CLIENT_CREDENTIAL_BYTES`]; 0 otherwise.
    pub client_credential_bytes: usize,
    /// For a key-distribution scheme, [`KdProperties::rejoins`](crate::kd::KdProperties::rejoins);
    /// false otherwise.
    pub rejoins: bool,
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
            client_credential_bytes: K::CLIENT_CREDENTIAL_BYTES,
            rejoins: K::PROPERTIES.rejoins,
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
            client_credential_bytes: 0,
            rejoins: false,
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
            client_credential_bytes: 0,
            rejoins: false,
        },
        sse_system::<S>,
    )
}

/// A key-distribution scheme the registry can list: a [`KeyDistribution`] whose messages, with
/// the `testing` feature, the conformance suite can corrupt
/// ([`Tamper`](crate::testing::Tamper)). Every [`KeyDistribution`] that meets that bound is one.
#[cfg(any(test, feature = "testing"))]
pub trait KdScheme: KeyDistribution<Message: crate::testing::Tamper> {}
#[cfg(any(test, feature = "testing"))]
impl<K: KeyDistribution<Message: crate::testing::Tamper>> KdScheme for K {}

/// A key-distribution scheme the registry can list: every [`KeyDistribution`] (with the
/// `testing` feature, also its messages implement `testing::Tamper`).
#[cfg(not(any(test, feature = "testing")))]
pub trait KdScheme: KeyDistribution {}
#[cfg(not(any(test, feature = "testing")))]
impl<K: KeyDistribution> KdScheme for K {}

/// A history-protection scheme the registry can list: a [`HistoryProtection`] whose stored
/// records, with the `testing` feature, the conformance suite can corrupt
/// ([`Tamper`](crate::testing::Tamper)). Every [`HistoryProtection`] that meets that bound is
/// one.
#[cfg(any(test, feature = "testing"))]
pub trait HistoryScheme: HistoryProtection<Sealed: crate::testing::Tamper> {}
#[cfg(any(test, feature = "testing"))]
impl<H: HistoryProtection<Sealed: crate::testing::Tamper>> HistoryScheme for H {}

/// A history-protection scheme the registry can list: every [`HistoryProtection`] (with the
/// `testing` feature, also its stored records implement `testing::Tamper`).
#[cfg(not(any(test, feature = "testing")))]
pub trait HistoryScheme: HistoryProtection {}
#[cfg(not(any(test, feature = "testing")))]
impl<H: HistoryProtection> HistoryScheme for H {}

/// Something done once per registered key-distribution scheme, by type: [`each_kd`] calls
/// [`visit`](Self::visit) for every scheme of the built-in list, in registry order. The
/// registry itself, the conformance suites and the benches are such visitors, so a scheme
/// added to that list is registered, checked and benched at once.
pub trait KdVisitor {
    /// Called once for scheme `K`.
    fn visit<K: KdScheme>(&mut self);
}

/// Something done once per registered history-protection scheme, by type: [`each_history`]
/// calls [`visit`](Self::visit) for every scheme of the built-in list, in registry order.
pub trait HistoryVisitor {
    /// Called once for scheme `H`.
    fn visit<H: HistoryScheme>(&mut self);
}

/// Something done once per registered searchable-encryption scheme, by type: [`each_sse`] calls
/// [`visit`](Self::visit) for every scheme of the built-in list, in registry order.
pub trait SseVisitor {
    /// Called once for scheme `S`.
    fn visit<S: SearchableEncryption>(&mut self);
}

/// The built-in key-distribution schemes, in registry order: the one list of them. A new
/// scheme is its module plus one line here.
pub fn each_kd(v: &mut impl KdVisitor) {
    v.visit::<Conventional>();
    v.visit::<PairwiseDh>();
    v.visit::<SenderKeys>();
    v.visit::<Mkd>();
    v.visit::<Sakke>();
    v.visit::<Mls>();
}

/// The built-in history-protection schemes, in registry order: the one list of them. A new
/// scheme is its module plus one line here.
pub fn each_history(v: &mut impl HistoryVisitor) {
    v.visit::<NoProtection>();
    v.visit::<EpochKeys>();
    v.visit::<ClientRewrap>();
    v.visit::<Bbs98>();
    v.visit::<KeyHom>();
    v.visit::<Afgh>();
    v.visit::<AfghHybrid>();
}

/// The built-in searchable-encryption schemes, in registry order: the one list of them. A new
/// scheme is its module plus one line here.
pub fn each_sse(v: &mut impl SseVisitor) {
    v.visit::<PlaintextIndex>();
    v.visit::<RekeyIndex>();
    v.visit::<PerEpoch>();
    v.visit::<Mitra>();
}

/// Builds [`Registry::builtin`] from [`each_kd`], [`each_history`] and [`each_sse`].
struct Builtin(Registry);

impl Builtin {
    /// Adds an entry of a built-in list; a name twice in one list is a bug of that list.
    fn push<C>(entries: &mut Vec<(SchemeInfo, C)>, entry: (SchemeInfo, C)) {
        if let Err(e) = add(entries, entry) {
            panic!("the built-in list names a scheme twice: {e}");
        }
    }
}

impl KdVisitor for Builtin {
    fn visit<K: KdScheme>(&mut self) {
        Self::push(&mut self.0.kd, kd_entry::<K>());
    }
}

impl HistoryVisitor for Builtin {
    fn visit<H: HistoryScheme>(&mut self) {
        Self::push(&mut self.0.history, history_entry::<H>());
    }
}

impl SseVisitor for Builtin {
    fn visit<S: SearchableEncryption>(&mut self) {
        Self::push(&mut self.0.sse, sse_entry::<S>());
    }
}

/// A scheme added to a [`Registry`] under a name its family already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{} scheme `{name}` is registered already", family.key())]
pub struct DuplicateScheme {
    /// The family.
    pub family: Family,
    /// The name registered twice.
    pub name: &'static str,
}

/// The schemes a run can pick by name: [`Registry::builtin`] holds this crate's, the default
/// registry none, and the `with_*` methods add others (a researcher's scheme, or a deliberately
/// broken one in a test of the oracle). Names are unique per family: adding a name the family already has is a
/// [`DuplicateScheme`] error, never a silent replacement, so a stack's name always means one
/// scheme.
#[derive(Clone, Default)]
pub struct Registry {
    kd: Vec<(SchemeInfo, KdCtor)>,
    history: Vec<(SchemeInfo, HistoryCtor)>,
    sse: Vec<(SchemeInfo, SseCtor)>,
    /// What each family's schemes run as under the `model` cost mode, by scheme name
    /// ([`crate::model`]).
    models: Models,
}

/// The built-in schemes' models, by the name of the scheme each stands for.
#[derive(Clone, Default)]
struct Models {
    kd: Vec<(&'static str, KdModel)>,
    history: Vec<(&'static str, HistoryCtor)>,
    sse: Vec<(&'static str, SseCtor)>,
}

/// A key-distribution scheme's model: how to make it, and what its clients hold for their
/// credentials (which a model may hold far less of than the scheme: for a run's memory estimate).
#[derive(Clone, Copy)]
struct KdModel {
    ctor: KdCtor,
    client_credential_bytes: usize,
}

/// The model `M` of scheme `R`.
const fn kd_model<M: KeyDistribution, R: KeyDistribution>() -> KdModel {
    KdModel {
        ctor: modelled_kd_system::<M, R>,
        client_credential_bytes: M::CLIENT_CREDENTIAL_BYTES,
    }
}

impl Models {
    /// The models of the built-in schemes. A scheme that computes nothing secret is its own
    /// model; the others have one in [`crate::model`].
    fn builtin() -> Self {
        Self {
            kd: vec![
                (Conventional::NAME, kd_model::<Conventional, Conventional>()),
                (PairwiseDh::NAME, kd_model::<PairwiseDhModel, PairwiseDh>()),
                (SenderKeys::NAME, kd_model::<SenderKeysModel, SenderKeys>()),
                (Mls::NAME, kd_model::<MlsModel, Mls>()),
                (Mkd::NAME, kd_model::<MkdModel, Mkd>()),
                (Sakke::NAME, kd_model::<SakkeModel, Sakke>()),
            ],
            history: vec![
                (NoProtection::NAME, history_system::<NoProtection>),
                (EpochKeys::NAME, history_system::<EpochKeysWith<Ideal>>),
                (
                    ClientRewrap::NAME,
                    history_system::<ClientRewrapWith<Ideal>>,
                ),
                (Bbs98::NAME, history_system::<Bbs98In<Exponents>>),
                (KeyHom::NAME, history_system::<KeyHomIn<Exponents>>),
                (Afgh::NAME, history_system::<AfghIn<PairingExponents>>),
                (
                    AfghHybrid::NAME,
                    history_system::<AfghHybridIn<PairingExponents>>,
                ),
            ],
            sse: vec![
                (PlaintextIndex::NAME, sse_system::<PlaintextIndex>),
                (PerEpoch::NAME, sse_system::<PerEpochWith<Ideal>>),
                (Mitra::NAME, sse_system::<MitraWith<Ideal>>),
                (
                    RekeyIndex::NAME,
                    sse_system::<RekeyIndexIn<Exponents, Ideal>>,
                ),
            ],
        }
    }
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

/// The constructor registered under `name`.
fn find<C: Copy>(entries: &[(SchemeInfo, C)], name: &str) -> Option<C> {
    entries
        .iter()
        .find(|(i, _)| i.name == name)
        .map(|(_, c)| *c)
}

impl Registry {
    /// Every scheme this crate implements: the lists of [`each_kd`], [`each_history`] and
    /// [`each_sse`], in their order.
    #[must_use]
    pub fn builtin() -> Self {
        let mut builtin = Builtin(Self::default());
        each_kd(&mut builtin);
        each_history(&mut builtin);
        each_sse(&mut builtin);
        builtin.0.models = Models::builtin();
        builtin.0
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

    /// Names of the key-distribution schemes that can rejoin a room
    /// ([`KdProperties::rejoins`](crate::kd::KdProperties::rejoins)), in registration order.
    #[must_use]
    pub fn rejoining_kd(&self) -> Vec<&'static str> {
        self.kd
            .iter()
            .filter(|(i, _)| i.rejoins)
            .map(|(i, _)| i.name)
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
        let ctor = find(&self.kd, name)
            .ok_or(SchemeError::Unsupported("unknown key-distribution scheme"))?;
        ctor(rng)
    }

    /// A fresh history-protection system by name.
    ///
    /// # Errors
    /// [`SchemeError::Unsupported`] for an unknown name.
    pub fn history(&self, name: &str) -> Result<Box<dyn DynHistory>, SchemeError> {
        let ctor = find(&self.history, name).ok_or(SchemeError::Unsupported(
            "unknown history-protection scheme",
        ))?;
        Ok(ctor())
    }

    /// A fresh searchable-encryption system by name.
    ///
    /// # Errors
    /// [`SchemeError::Unsupported`] for an unknown name.
    pub fn sse(&self, name: &str) -> Result<Box<dyn DynSse>, SchemeError> {
        let ctor = find(&self.sse, name).ok_or(SchemeError::Unsupported(
            "unknown searchable-encryption scheme",
        ))?;
        Ok(ctor())
    }

    /// The names of `family`'s schemes that can run under the `model` cost mode.
    #[must_use]
    pub fn modelled(&self, family: Family) -> Vec<&'static str> {
        match family {
            Family::KeyDistribution => model_names(&self.models.kd),
            Family::History => model_names(&self.models.history),
            Family::Search => model_names(&self.models.sse),
        }
    }

    /// What each client of key-distribution scheme `name` holds for its credentials
    /// ([`KeyDistribution::CLIENT_CREDENTIAL_BYTES`]), as a run uses the scheme: as it is, or
    /// as its model if `modelled`. `None` for a name that is not a registered key-distribution
    /// scheme, or, if `modelled`, one without a model.
    #[must_use]
    pub fn client_credential_bytes(&self, name: &str, modelled: bool) -> Option<usize> {
        if modelled {
            model(&self.models.kd, name).map(|m| m.client_credential_bytes)
        } else {
            self.kd
                .iter()
                .find(|(i, _)| i.name == name)
                .map(|(i, _)| i.client_credential_bytes)
        }
    }

    /// What the key-distribution scheme `name` runs as under the `model` cost mode
    /// ([`crate::model`]).
    ///
    /// # Errors
    /// [`SchemeError::Unsupported`] if the scheme has no model; as its constructor otherwise.
    pub fn kd_model(
        &self,
        name: &str,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Box<dyn DynKd>, SchemeError> {
        let model = model(&self.models.kd, name).ok_or(SchemeError::Unsupported(
            "this key-distribution scheme has no model",
        ))?;
        (model.ctor)(rng)
    }

    /// What the history-protection scheme `name` runs as under the `model` cost mode.
    ///
    /// # Errors
    /// [`SchemeError::Unsupported`] if the scheme has no model.
    pub fn history_model(&self, name: &str) -> Result<Box<dyn DynHistory>, SchemeError> {
        let ctor = model(&self.models.history, name).ok_or(SchemeError::Unsupported(
            "this history-protection scheme has no model",
        ))?;
        Ok(ctor())
    }

    /// What the searchable-encryption scheme `name` runs as under the `model` cost mode.
    ///
    /// # Errors
    /// [`SchemeError::Unsupported`] if the scheme has no model.
    pub fn sse_model(&self, name: &str) -> Result<Box<dyn DynSse>, SchemeError> {
        let ctor = model(&self.models.sse, name).ok_or(SchemeError::Unsupported(
            "this searchable-encryption scheme has no model",
        ))?;
        Ok(ctor())
    }
}

fn model_names<C>(entries: &[(&'static str, C)]) -> Vec<&'static str> {
    entries.iter().map(|(n, _)| *n).collect()
}

fn model<C: Copy>(entries: &[(&'static str, C)], name: &str) -> Option<C> {
    entries.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
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
    fn credentials_are_counted_as_the_run_uses_the_scheme() {
        let registry = Registry::builtin();
        let real = registry.client_credential_bytes("sakke", false).unwrap();
        let model = registry.client_credential_bytes("sakke", true).unwrap();
        // The real receiver's tables against an ideal one's few fields.
        assert!(real > 1 << 20, "{real}");
        assert!(model < 1 << 10, "{model}");
        assert_eq!(
            registry.client_credential_bytes("pairwise-dh", true),
            Some(0)
        );
        assert_eq!(registry.client_credential_bytes("nope", false), None);
        assert_eq!(registry.client_credential_bytes("epoch-keys", false), None);
        let unmodelled = Registry::default()
            .with_kd::<crate::kd::sakke::Sakke>()
            .unwrap();
        assert_eq!(unmodelled.client_credential_bytes("sakke", true), None);
        assert_eq!(
            unmodelled.client_credential_bytes("sakke", false),
            Some(real)
        );
    }

    #[test]
    fn every_model_stands_for_a_registered_scheme_of_its_name() {
        use rand_chacha::rand_core::SeedableRng;
        let registry = Registry::builtin();
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        for name in registry.modelled(Family::KeyDistribution) {
            assert!(names(Family::KeyDistribution).contains(&name), "{name}");
            let model = registry.kd_model(name, &mut rng).unwrap();
            let real = registry.kd(name, &mut rng).unwrap();
            assert_eq!(
                (model.name(), model.properties()),
                (name, real.properties())
            );
        }
        for name in registry.modelled(Family::History) {
            assert!(names(Family::History).contains(&name), "{name}");
            assert_eq!(registry.history_model(name).unwrap().name(), name);
        }
        for name in registry.modelled(Family::Search) {
            assert!(names(Family::Search).contains(&name), "{name}");
            assert_eq!(registry.sse_model(name).unwrap().name(), name);
        }
        // Every built-in scheme has a model; one registered without a model has none.
        for family in [Family::KeyDistribution, Family::History, Family::Search] {
            let mut modelled = registry.modelled(family);
            let mut all = names(family);
            modelled.sort_unstable();
            all.sort_unstable();
            assert_eq!(modelled, all, "{family:?}");
        }
        let bare = Registry::default().with_kd::<Sakke>().unwrap();
        assert!(bare.kd(Sakke::NAME, &mut rng).is_ok());
        assert!(matches!(
            bare.kd_model(Sakke::NAME, &mut rng),
            Err(SchemeError::Unsupported(_))
        ));
        assert!(Registry::default().modelled(Family::Search).is_empty());
    }

    #[test]
    fn registry_adds_schemes_in_order() {
        let extended = Registry::default()
            .with_sse::<RekeyIndex>()
            .unwrap()
            .with_sse::<PlaintextIndex>()
            .unwrap();
        assert_eq!(
            extended.names(Family::Search),
            [RekeyIndex::NAME, PlaintextIndex::NAME]
        );
        assert!(extended.names(Family::History).is_empty());
        assert!(extended.sse(Mitra::NAME).is_err());
        let system = extended.sse(PlaintextIndex::NAME).unwrap();
        assert_eq!(system.name(), PlaintextIndex::NAME);
        assert!(system.properties().server_reads_keywords);
        let info = extended.all().into_iter().last().unwrap();
        assert_eq!(
            (info.family, info.summary),
            (Family::Search, PlaintextIndex::SUMMARY)
        );
    }

    #[test]
    fn registry_refuses_a_name_twice() {
        let once = Registry::default().with_sse::<PlaintextIndex>().unwrap();
        let err = once.with_sse::<PlaintextIndex>().unwrap_err();
        assert_eq!(
            err,
            DuplicateScheme {
                family: Family::Search,
                name: "plaintext"
            }
        );
        assert_eq!(
            err.to_string(),
            "sse scheme `plaintext` is registered already"
        );
        let err = Registry::builtin().with_kd::<Conventional>().unwrap_err();
        assert_eq!(err.name, "conventional");
        let err = Registry::builtin().with_history::<EpochKeys>().unwrap_err();
        assert_eq!(err.family, Family::History);
    }
}
