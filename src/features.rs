//! What rnats implements, feature by feature. Config keys (the key table in
//! `conf::keys`) and command-line flags (`cli`) name the feature they belong
//! to; [`Feature::support`] decides for all of them. To mark a feature
//! implemented, change its arm there: every key and flag of it follows.

/// A unit of functionality that keys and command-line flags belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    /// Everything the core server does today.
    Core,
    Tls,
    Cluster,
    Monitoring,
    Syslog,
    LogRotation,
    TraceTruncation,
    LameDuck,
    Profiling,
    JetStream,
    Accounts,
    SubjectMappings,
    /// Operator mode: JWTs, resolvers, trusted keys.
    Jwt,
    /// `resolver_tls`: HTTPS to the account server of a URL resolver.
    ResolverTls,
    Gateway,
    Leafnodes,
    Websocket,
    Mqtt,
    Ocsp,
    AuthCallout,
    ProxyProtocol,
    Proxies,
    SystemAccount,
    ServerMetadata,
    WriteTimeoutPolicy,
    SubTokenLimit,
    ErrorReports,
    ClosedClients,
    SublistCache,
    FeatureFlags,
}

/// What rnats does with a key or flag of a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Implemented,
    /// Checked, then ignored with a note at startup: running without the
    /// feature is safe (no listener opens, nothing is weakened).
    Ignored(&'static str),
    /// Checked, and the server refuses to start with it: running without it
    /// would quietly weaken the deployment (plaintext instead of TLS, users
    /// left unchecked, messages not routed).
    Refused(&'static str),
}

impl Feature {
    /// Whether rnats implements the feature. This is the only place to change
    /// when a feature lands: its keys and flags follow.
    pub const fn support(self) -> Support {
        use Support::*;
        match self {
            Feature::Core => Implemented,
            Feature::Tls => Implemented,
            Feature::Cluster => Implemented,
            Feature::Monitoring => Implemented,
            Feature::Syslog => Implemented,
            Feature::LogRotation => Implemented,
            Feature::TraceTruncation => Implemented,
            Feature::LameDuck => Implemented,
            Feature::Profiling => Ignored("profiling endpoints do not exist in rnats"),
            Feature::JetStream => Ignored("JetStream is not supported by rnats; running without it"),
            Feature::Accounts => Implemented,
            Feature::SubjectMappings => Implemented,
            Feature::Jwt => Implemented,
            Feature::ResolverTls => Implemented,
            Feature::Gateway => Ignored("gateways are not implemented yet; no gateway port is opened"),
            Feature::Leafnodes => Ignored("leaf nodes are not implemented yet; no leafnode port is opened"),
            Feature::Websocket => Implemented,
            Feature::Mqtt => Ignored("MQTT is not implemented yet; no MQTT port is opened"),
            Feature::Ocsp => Ignored("OCSP stapling is not implemented yet"),
            Feature::AuthCallout => Ignored("auth callout is not implemented yet"),
            Feature::ProxyProtocol => Refused("the PROXY protocol is not implemented yet"),
            Feature::Proxies => Ignored("trusted proxies are not implemented yet"),
            Feature::SystemAccount => Implemented,
            Feature::ServerMetadata => Ignored("server tags and metadata are not reported yet"),
            Feature::WriteTimeoutPolicy => Ignored("write_timeout policies are not implemented yet (rnats closes)"),
            Feature::SubTokenLimit => Ignored("max_sub_tokens is not enforced yet"),
            Feature::ErrorReports => Implemented,
            Feature::ClosedClients => Implemented,
            Feature::SublistCache => Ignored("rnats has one subscription cache design; the switch has no effect"),
            Feature::FeatureFlags => Ignored("nats-server feature flags have no meaning in rnats"),
        }
    }

    pub const fn implemented(self) -> bool {
        matches!(self.support(), Support::Implemented)
    }
}
