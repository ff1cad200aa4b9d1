//! `jetstream`, at the top and in an account.

use super::*;

pub static JETSTREAM: Block<()> = block(
    "jetstream",
    &[
        key("enabled", Ty::Bool, Yes).alias(&["enable"]),
        key("disabled", Ty::Bool, Yes).alias(&["disable"]),
        key("strict", Ty::Bool, Restart),
        key("store_dir", Ty::Str, Restart).alias(&["store", "storedir"]),
        key("sync_interval", Ty::Custom(&SYNC_TY), Restart).alias(&["sync"]),
        key("max_memory_store", Ty::StorageSize, Partly("increases only")).alias(&["max_mem_store", "max_mem"]),
        key("max_file_store", Ty::StorageSize, Partly("increases only")).alias(&["max_file"]),
        key("domain", Ty::Str, Restart),
        key("encryption_key", Ty::Str, Restart).alias(&["key", "ek"]),
        key("prev_encryption_key", Ty::Str, Restart).alias(&["prev_key", "prev_ek"]),
        key("cipher", Ty::Custom(&CIPHER_TY), Restart),
        key("extension_hint", Ty::Str, Restart),
        key("limits", Ty::Block(&JS_LIMITS), Restart),
        key("tpm", Ty::Block(&JS_TPM), Restart),
        key("unique_tag", Ty::Str, Restart),
        key("max_outstanding_catchup", Ty::StorageSize, Restart),
        key("max_buffered_size", Ty::StorageSize, Restart),
        key("max_buffered_msgs", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("request_queue_limit", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("info_queue_limit", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("meta_compact", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes),
        key("meta_compact_size", Ty::StorageSize, Yes),
        key("meta_compact_sync", Ty::Bool, Yes),
        key("max_concurrent_io", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
    ],
);

pub(super) static JS_LIMITS: Block<()> = block(
    "limits",
    &[
        key("max_ack_pending", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("max_ha_assets", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("max_request_batch", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("duplicate_window", Ty::Duration, Restart),
        key("batch", Ty::Block(&JS_BATCH), Restart),
    ],
);

pub(super) static JS_BATCH: Block<()> = block(
    "batch",
    &[
        key("max_inflight_per_stream", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("max_inflight_total", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("max_msgs", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("timeout", Ty::Duration, Restart),
    ],
);

pub(super) static JS_TPM: Block<()> = block(
    "tpm",
    &[
        key("keys_file", Ty::Str, Restart),
        key("encryption_password", Ty::Str, Restart),
        key("srk_password", Ty::Str, Restart),
        key("pcr", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("cipher", Ty::Custom(&CIPHER_TY), Restart),
    ],
);

pub static ACCOUNT_JETSTREAM: Block<()> = block(
    "jetstream",
    &[
        key("enabled", Ty::Bool, Yes).alias(&["enable"]),
        key("disabled", Ty::Bool, Yes).alias(&["disable"]),
        key("max_memory", Ty::StorageSize, Yes).alias(&["max_mem", "mem", "memory"]),
        key("max_store", Ty::StorageSize, Yes).alias(&["max_file", "max_disk", "store", "disk"]),
        key("max_streams", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes).alias(&["streams"]),
        key("max_consumers", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes).alias(&["consumers"]),
        key("max_bytes_required", Ty::Bool, Yes).alias(&["max_stream_bytes", "max_bytes"]),
        key("mem_max_stream_bytes", Ty::StorageSize, Yes).alias(&["memory_max_stream_bytes"]),
        key("disk_max_stream_bytes", Ty::StorageSize, Yes).alias(&["store_max_stream_bytes"]),
        key("max_ack_pending", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes),
        key("cluster_traffic", Ty::Str, Yes),
    ],
);

custom!(
    ACCOUNT_JETSTREAM_TY,
    "boolean, `enabled`/`disabled` or a map",
    r#"{"type": ["boolean", "string", "object"]}"#,
    |b, k, v| values::enabled_or_block(b, k, v, &ACCOUNT_JETSTREAM),
    Inner::Block(&ACCOUNT_JETSTREAM)
);

custom!(
    JETSTREAM_TY,
    "boolean, `enabled`/`disabled` or a map",
    r#"{"type": ["boolean", "string", "object"]}"#,
    |b, k, v| values::enabled_or_block(b, k, v, &JETSTREAM),
    Inner::Block(&JETSTREAM)
);
