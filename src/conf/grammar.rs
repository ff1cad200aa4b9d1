//! The pest parser generated from `grammar/nats.pest`; nothing else.

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/nats.pest"]
pub struct NatsConf;
