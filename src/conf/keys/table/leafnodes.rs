//! `leafnodes`: the listener, its authorization, and the remotes.

use super::*;

pub(super) static LEAFNODES: Block<()> = block(
    "leafnodes",
    &[
        key("listen", Ty::Listen, Restart),
        key("port", Ty::Port, Restart),
        key("host", Ty::Str, Restart).alias(&["net"]),
        key("authorization", Ty::Block(&LEAF_AUTH), Restart),
        key("remotes", Ty::Blocks(&LEAF_REMOTE), Yes),
        key("reconnect", Ty::Duration, Restart).alias(&["reconnect_delay", "reconnect_interval"]),
        key("dial_timeout", Ty::Duration, Restart),
        key("tls", Ty::Block(&TLS), Yes),
        key("advertise", Ty::Str, Restart).alias(&["leafnode_advertise"]),
        key("no_advertise", Ty::Bool, Restart),
        key("min_version", Ty::Str, Restart).alias(&["minimum_version"]),
        key("compression", Ty::Custom(&COMPRESSION_TY), Restart),
        key("isolate_leafnode_interest", Ty::Bool, Restart).alias(&["isolate"]),
        key("write_deadline", Ty::Duration, Restart),
        key("write_timeout", Ty::OneOf(WRITE_TIMEOUT), Restart),
    ],
);

pub(super) static LEAF_AUTH: Block<()> = block(
    "authorization",
    &[
        key("user", Ty::Str, Restart).alias(&["username"]),
        key("password", Ty::Str, Restart).alias(&["pass"]),
        key("nkey", Ty::Str, Restart),
        key("timeout", Ty::Custom(&NUMBER_TY), Restart),
        key("users", Ty::Blocks(&LEAF_USER), Restart),
        key("account", Ty::Str, Restart),
        key("proxy_required", Ty::Bool, Restart),
    ],
);

pub(super) static LEAF_USER: Block<()> = block(
    "users",
    &[
        key("user", Ty::Str, Restart).alias(&["username"]),
        key("password", Ty::Str, Restart).alias(&["pass"]),
        key("account", Ty::Str, Restart),
        key("proxy_required", Ty::Bool, Restart),
    ],
);

pub(super) static LEAF_REMOTE: Block<()> = block(
    "remotes",
    &[
        key("url", Ty::Strings, Yes).alias(&["urls"]),
        key("no_randomize", Ty::Bool, Yes).alias(&["dont_randomize"]),
        key("account", Ty::Str, Yes).alias(&["local"]),
        key("credentials", Ty::Str, Yes).alias(&["creds"]),
        key("nkey", Ty::Str, Yes).alias(&["seed"]),
        key("tls", Ty::Block(&TLS), Yes),
        key("hub", Ty::Bool, Yes),
        key("deny_imports", Ty::Strings, Yes).alias(&["deny_import"]),
        key("deny_exports", Ty::Strings, Yes).alias(&["deny_export"]),
        key("ws_compression", Ty::Bool, Yes).alias(&["ws_compress", "websocket_compress", "websocket_compression"]),
        key("ws_no_masking", Ty::Bool, Yes).alias(&["websocket_no_masking"]),
        key("js_cluster_migrate", Ty::Custom(&ANY_TY), Yes).alias(&["jetstream_cluster_migrate"]),
        key("isolate_leafnode_interest", Ty::Bool, Yes).alias(&["isolate"]),
        key("request_isolation", Ty::Bool, Yes),
        key("compression", Ty::Custom(&COMPRESSION_TY), Yes),
        key("first_info_timeout", Ty::Duration, Yes),
        key("dial_timeout", Ty::Duration, Yes),
        key("disabled", Ty::Bool, Yes),
        key("proxy", Ty::Block(&LEAF_PROXY), Yes),
        key("ignore_discovered_servers", Ty::Bool, Yes),
    ],
);

pub(super) static LEAF_PROXY: Block<()> = block(
    "proxy",
    &[
        key("url", Ty::Str, Yes),
        key("username", Ty::Str, Yes),
        key("password", Ty::Str, Yes),
        key("timeout", Ty::Duration, Yes),
    ],
);
