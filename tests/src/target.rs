//! What a conformance test runs against: the gateway on either backend, or S3 directly.
//!
//! [`conformance!`](crate::conformance) turns each listed `async fn name(t: Target)` into three
//! tests, `direct::name`, `folder::name` and `s3::name`; [`gateway_only!`](crate::gateway_only)
//! into the last two. `direct` runs against the plain S3 server and shows the test expects what
//! S3 does; checks of Sealgate's own promises (encryption headers) ask [`Target::is_gateway`].

use crate::client::Client;
use crate::data;
use crate::gateway::{BackendKind, Gateway};
use crate::s3server::S3Server;
use crate::tools;

/// Which server a test talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The plain S3 server, no gateway.
    Direct,
    /// The gateway on its local folder backend.
    Folder,
    /// The gateway in front of the S3 server.
    S3,
}

/// A server under test and a client for it.
#[derive(Debug)]
pub struct Target {
    /// Which server this is.
    pub kind: Kind,
    /// A client signing with valid credentials.
    pub client: Client,
    /// The gateway, unless `kind` is `Direct`.
    pub gateway: Option<Gateway>,
}

impl Target {
    /// Starts what `kind` needs.
    pub fn start(kind: Kind) -> Target {
        let gateway = match kind {
            Kind::Direct => None,
            Kind::Folder => Some(Gateway::start(BackendKind::Folder)),
            Kind::S3 => Some(Gateway::start(BackendKind::S3(S3Server::shared()))),
        };
        let client = match &gateway {
            Some(g) => g.client(),
            None => S3Server::shared().client(),
        };
        Target {
            kind,
            client,
            gateway,
        }
    }

    /// Whether requests go through Sealgate.
    pub fn is_gateway(&self) -> bool {
        self.gateway.is_some()
    }

    /// The gateway; panics on `Direct`.
    pub fn gateway(&self) -> &Gateway {
        self.gateway.as_ref().expect("a gateway target")
    }

    /// Whether the server checks signatures (moto does not).
    pub fn checks_signatures(&self) -> bool {
        self.is_gateway() || !S3Server::shared().is_moto()
    }

    /// Whether this is moto without a gateway: moto skips some of S3's checks and options, and
    /// the tests that meet such a gap say so where they ask.
    pub fn is_plain_moto(&self) -> bool {
        self.kind == Kind::Direct && S3Server::shared().is_moto()
    }

    /// Creates a fresh bucket and returns its name.
    pub async fn bucket(&self) -> String {
        let name = data::bucket_name("sg");
        self.client.create_bucket(&name).await;
        name
    }

    /// The environment for aws-cli and python clients.
    pub fn env(&self) -> tools::Env {
        let c = &self.client;
        let (endpoint, creds, region) = (c.endpoint.clone(), c.creds.clone(), c.region.clone());
        tools::Env {
            endpoint,
            creds,
            region,
        }
    }
}

/// Instantiates each `async fn name(t: Target)` as `direct::name`, `folder::name` and `s3::name`;
/// names after `gateway:` only as `folder::name` and `s3::name`.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)? $(; gateway: $($gname:ident),* $(,)?)?) => {
        $crate::instantiate!(direct, Direct, $($name),*);
        $crate::instantiate!(folder, Folder, $($name,)* $($($gname),*)?);
        $crate::instantiate!(s3, S3, $($name,)* $($($gname),*)?);
    };
}

/// Instantiates each `async fn name(t: Target)` as `folder::name` and `s3::name` only.
#[macro_export]
macro_rules! gateway_only {
    ($($name:ident),* $(,)?) => {
        $crate::instantiate!(folder, Folder, $($name),*);
        $crate::instantiate!(s3, S3, $($name),*);
    };
}

/// One module of tests, all against one [`Kind`].
#[macro_export]
macro_rules! instantiate {
    ($module:ident, $kind:ident, $($name:ident),* $(,)?) => {
        mod $module {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::Target::start($crate::Kind::$kind)).await;
                }
            )*
        }
    };
}
