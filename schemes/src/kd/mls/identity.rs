//! Who a leaf is: MLS credentials checked against the chat service's directory.
//!
//! A member's MLS credential is a basic credential whose identifier is its [`UserId`] (4 octets,
//! big-endian), and its signature key must be the Ed25519 key the directory published for that
//! user at enrolment. [`DirectoryIdentity`] is the identity provider mls-rs consults for every
//! leaf a commit or Welcome brings in (RFC 9420 §5.3.1: the application authenticates
//! credentials): a leaf for an unknown user, or with another key than the directory's, is
//! refused, so a key server that inserts its own leaf into a commit or a Welcome's tree is
//! caught. The provider holds the directory entries its client has looked up; the client loads
//! the entries of the roster it is told before each message ([`DirectoryIdentity::learn`]).

use crate::common::fixed_hash::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use mls_rs::error::IntoAnyError;
use mls_rs::identity::basic::BasicCredential;
use mls_rs::identity::{CredentialType, SigningIdentity};
use mls_rs::time::MlsTime;
use mls_rs::{ExtensionList, IdentityProvider};
use mls_rs_core::identity::MemberValidationContext;

use crate::UserId;

/// The MLS credential of `user`.
#[must_use]
pub fn credential_of(user: UserId) -> mls_rs::identity::Credential {
    BasicCredential::new(user.0.to_be_bytes().to_vec()).into_credential()
}

/// The user a credential names, if it is one of this scheme's.
#[must_use]
pub fn user_of(identity: &SigningIdentity) -> Option<UserId> {
    let basic = identity.credential.as_basic()?;
    let id: [u8; 4] = basic.identifier().try_into().ok()?;
    Some(UserId(u32::from_be_bytes(id)))
}

/// A leaf the directory does not vouch for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the directory does not vouch for this credential")]
pub struct NotInDirectory;

impl IntoAnyError for NotInDirectory {
    fn into_dyn_error(self) -> Result<Box<dyn std::error::Error + Send + Sync>, Self> {
        Ok(Box::new(self))
    }
}

/// The identity provider of one MLS client: the directory entries it has looked up.
#[derive(Clone, Debug, Default)]
pub struct DirectoryIdentity {
    known: Arc<RwLock<HashMap<UserId, [u8; 32]>>>,
}

impl DirectoryIdentity {
    /// Records that the directory lists `key` as `user`'s signature key.
    pub fn learn(&self, user: UserId, key: [u8; 32]) {
        let mut known = self.known.write().unwrap_or_else(PoisonError::into_inner);
        known.insert(user, key);
    }

    /// Whether `user`'s entry is loaded.
    #[must_use]
    pub fn knows(&self, user: UserId) -> bool {
        let known = self.known.read().unwrap_or_else(PoisonError::into_inner);
        known.contains_key(&user)
    }

    fn vouches(&self, identity: &SigningIdentity) -> bool {
        let Some(user) = user_of(identity) else {
            return false;
        };
        let known = self.known.read().unwrap_or_else(PoisonError::into_inner);
        known
            .get(&user)
            .is_some_and(|key| key.as_slice() == identity.signature_key.as_bytes())
    }
}

impl IdentityProvider for DirectoryIdentity {
    type Error = NotInDirectory;

    fn validate_member(
        &self,
        signing_identity: &SigningIdentity,
        _timestamp: Option<MlsTime>,
        _context: MemberValidationContext<'_>,
    ) -> Result<(), NotInDirectory> {
        if self.vouches(signing_identity) {
            Ok(())
        } else {
            Err(NotInDirectory)
        }
    }

    fn validate_external_sender(
        &self,
        _signing_identity: &SigningIdentity,
        _timestamp: Option<MlsTime>,
        _extensions: Option<&ExtensionList>,
    ) -> Result<(), NotInDirectory> {
        // Rooms have no external senders: the key server may not propose.
        Err(NotInDirectory)
    }

    fn identity(
        &self,
        signing_identity: &SigningIdentity,
        _extensions: &ExtensionList,
    ) -> Result<Vec<u8>, NotInDirectory> {
        user_of(signing_identity)
            .map(|u| u.0.to_be_bytes().to_vec())
            .ok_or(NotInDirectory)
    }

    fn valid_successor(
        &self,
        predecessor: &SigningIdentity,
        successor: &SigningIdentity,
        _extensions: &ExtensionList,
    ) -> Result<bool, NotInDirectory> {
        Ok(user_of(predecessor).is_some() && user_of(predecessor) == user_of(successor))
    }

    fn supported_types(&self) -> Vec<CredentialType> {
        vec![BasicCredential::credential_type()]
    }
}
