//! The decoded form parameters of one call, and who made it.
//!
//! Getters check presence and IAM's constraints, so a handler's first paragraph reads its
//! inputs and every later step works on valid values.

use crate::{Caller, Error, ids};

/// One call: the signing caller and its parameters.
pub(crate) struct Request<'a> {
    pub caller: &'a Caller,
    pub params: Params<'a>,
}

/// The form pairs of a call; the first of repeated names wins.
#[derive(Clone, Copy)]
pub(crate) struct Params<'a>(pub &'a [(String, String)]);

impl<'a> Params<'a> {
    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, or `MissingParameter`.
    pub fn require(&self, name: &'static str) -> Result<&'a str, Error> {
        self.get(name).ok_or(Error::MissingParameter { name })
    }

    /// A required user or group name (`UserName`, `GroupName`).
    pub fn entity(&self, name: &'static str) -> Result<&'a str, Error> {
        let value = self.require(name)?;
        ids::entity_name(name, value)?;
        Ok(value)
    }

    /// An optional user name, checked when present.
    pub fn optional_user(&self) -> Result<Option<&'a str>, Error> {
        let value = self.get("UserName");
        value.map(|v| ids::entity_name("UserName", v)).transpose()?;
        Ok(value)
    }

    /// The required `PolicyName`.
    pub fn policy_name(&self) -> Result<&'a str, Error> {
        let value = self.require("PolicyName")?;
        ids::policy_name("PolicyName", value)?;
        Ok(value)
    }

    /// `Path` (default `/`).
    pub fn path(&self) -> Result<&'a str, Error> {
        let value = self.get("Path").unwrap_or("/");
        ids::path("Path", value)?;
        Ok(value)
    }

    /// `PathPrefix` (default `/`, which matches everything).
    pub fn path_prefix(&self) -> Result<&'a str, Error> {
        let value = self.get("PathPrefix").unwrap_or("/");
        ids::path_prefix("PathPrefix", value)?;
        Ok(value)
    }
}
