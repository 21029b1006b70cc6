//! Generates the `tusk.v1` messages, client and server from `tusk/v1/tusk.proto`,
//! plus an encoded file descriptor set for gRPC reflection.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut config = tonic_prost_build::Config::new();
    // Honour an explicit PROTOC; otherwise use the vendored binary. Passing the path
    // through the config avoids mutating the process environment.
    let protoc = match std::env::var_os("PROTOC") {
        Some(path) => PathBuf::from(path),
        None => protoc_bin_vendored::protoc_bin_path()?,
    };
    config.protoc_executable(protoc);
    println!("cargo:rerun-if-env-changed=PROTOC");
    // Any rerun-if line replaces cargo's "rerun on any change" default, and neither
    // tonic-prost-build (with a custom config) nor prost-build names the proto: do it here.
    println!("cargo:rerun-if-changed=tusk/v1/tusk.proto");
    tonic_prost_build::configure()
        // Keys and values as `bytes::Bytes`: a server hands out slices of its
        // memory-mapped shards without copying them, and either side decodes them as
        // slices of the received buffer instead of one allocation each.
        .bytes(".tusk.v1.GetRequest.key")
        .bytes(".tusk.v1.MultiGetRequest.keys")
        .bytes(".tusk.v1.GetResponse.value")
        .bytes(".tusk.v1.Entry.value")
        // The two read responses are written by hand (`src/response.rs`): their
        // `version` is a shared `VersionId`, so a server answering from a loaded
        // version allocates no string per response.
        .extern_path(".tusk.v1.GetResponse", "crate::response::GetResponse")
        .extern_path(
            ".tusk.v1.MultiGetResponse",
            "crate::response::MultiGetResponse",
        )
        .file_descriptor_set_path(out_dir.join("tusk_v1_descriptor.bin"))
        .compile_with_config(config, &["tusk/v1/tusk.proto"], &["."])?;
    Ok(())
}
