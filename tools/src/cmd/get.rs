//! `tusk get`: look up keys on a server.

use anyhow::Context;
use serde::Serialize;

use super::ServerArgs;
use super::encoding::EncodingArg;
use crate::output::{display_bytes, encode_bytes, outln, print_json};
use crate::runtime::block_on;

/// Look up keys on a running server.
///
/// One key uses Get; several use one MultiGet, so every answer comes from the same
/// version. A missing key is not an error. Prints `KEY<TAB>VALUE` per found key and
/// `KEY<TAB>(not found)` otherwise, or with `--json` one object per key:
/// `{"key", "found", "value", "version"}` (non-UTF-8 values are base64 with
/// `"value_encoding": "base64"`).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  tusk get --server 127.0.0.1:7070 --domain pages home about --json\n  \
                  tusk get --server https://tusk-1:7070 --tls-ca ca.pem --domain pages home"
)]
pub struct Args {
    #[command(flatten)]
    server: ServerArgs,
    /// Domain to read.
    #[arg(long, env = "TUSK_DOMAIN", value_name = "NAME")]
    domain: String,
    /// Keys to look up.
    #[arg(required = true, value_name = "KEY")]
    keys: Vec<String>,
    /// Ask for this version instead of the server's current one.
    #[arg(long, value_name = "VERSION")]
    version: Option<String>,
    /// How the keys on the command line are encoded.
    #[arg(long, value_enum, default_value_t = EncodingArg::Utf8)]
    key_encoding: EncodingArg,
    /// Print one JSON object per key.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Answer {
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_encoding: Option<&'static str>,
    found: bool,
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_encoding: Option<&'static str>,
    version: String,
}

fn decode_key(text: &str, encoding: EncodingArg) -> anyhow::Result<Vec<u8>> {
    tusk_writer::Encoding::from(encoding)
        .decode(text, "key")
        .map_err(|e| anyhow::anyhow!("key {text:?}: {e}"))
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let keys = args
        .keys
        .iter()
        .map(|k| decode_key(k, args.key_encoding))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let options = args.server.node_options()?;
    let (results, version) = block_on(fetch(
        &args.server.server,
        options,
        &args.domain,
        keys.clone(),
        args.version.as_deref(),
    ))??;
    for (key, value) in keys.iter().zip(results) {
        if args.json {
            let (key_text, key_encoding) = encode_bytes(key);
            let (value, value_encoding) = match &value {
                Some(v) => {
                    let (text, enc) = encode_bytes(v);
                    (Some(text), enc)
                }
                None => (None, None),
            };
            print_json(&Answer {
                key: key_text,
                key_encoding,
                found: value.is_some(),
                value,
                value_encoding,
                version: version.clone(),
            })?;
        } else {
            match value {
                Some(v) => outln!("{}\t{}", display_bytes(key), display_bytes(&v))?,
                None => outln!("{}\t(not found)", display_bytes(key))?,
            }
        }
    }
    Ok(())
}

/// Answers for `keys` (in order) and the version that answered.
async fn fetch(
    server: &str,
    options: tusk_client::NodeOptions,
    domain: &str,
    keys: Vec<Vec<u8>>,
    version: Option<&str>,
) -> anyhow::Result<(Vec<Option<Vec<u8>>>, String)> {
    let client = tusk_client::Node::connect_with(server, options)
        .await
        .map_err(|e| super::connect_error(server, e))?;
    if keys.len() == 1 {
        let reply = client
            .get(domain, &keys[0], version)
            .await
            .with_context(|| format!("get from {server} domain {domain}"))?;
        let value = reply.found.then(|| reply.value.into());
        return Ok((vec![value], reply.version.into()));
    }
    let reply = client
        .multi_get(domain, keys, version)
        .await
        .with_context(|| format!("multi-get from {server} domain {domain}"))?;
    let values = reply
        .entries
        .into_iter()
        .map(|e| e.found.then(|| e.value.into()))
        .collect();
    Ok((values, reply.version.into()))
}
