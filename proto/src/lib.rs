//! tusk's gRPC contract: the `tusk.v1` package, generated with tonic and prost.
//!
//! The source of truth is `proto/tusk/v1/tusk.proto`; fields are added, never
//! renumbered. Servers implement [`v1::tusk_server::Tusk`]; clients use
//! [`v1::tusk_client::TuskClient`].
//!
//! ```
//! use tusk_proto::v1::GetRequest;
//!
//! let req = GetRequest { domain: "pages".into(), key: b"home".to_vec().into(), version: String::new() };
//! assert_eq!(req.domain, "pages");
//! ```
//!
//! Two messages are written by hand rather than generated: [`v1::GetResponse`] and
//! [`v1::MultiGetResponse`], whose `version` is a [`VersionId`] that a server
//! shares across responses instead of allocating a `String` for each.
#![deny(missing_docs)]

mod response;
mod version_id;

pub use version_id::VersionId;

/// Messages, client and server of the `tusk.v1` package.
pub mod v1 {
    #![allow(missing_docs)]
    tonic::include_proto!("tusk.v1");

    pub use crate::response::{GetResponse, MultiGetResponse};
}

/// Encoded `FileDescriptorSet` of `tusk.v1`, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("tusk_v1_descriptor");

/// Full gRPC name of the tusk service.
pub const SERVICE_NAME: &str = "tusk.v1.Tusk";

/// Request metadata a node sets on a request it forwards to another node. A node
/// never forwards a request that carries it, so forwarding never loops.
pub const FORWARDED_HEADER: &str = "tusk-forwarded";

/// Response metadata naming why a read failed, for clients that fail over: one
/// of the `REASON_*` values.
pub const REASON_HEADER: &str = "tusk-reason";
/// [`REASON_HEADER`]: the node does not hold the shard of a key (ask a replica).
pub const REASON_SHARD_NOT_HELD: &str = "shard-not-held";
/// [`REASON_HEADER`]: the node does not hold the version the request names.
pub const REASON_VERSION_NOT_HELD: &str = "version-not-held";
/// Response metadata sent with [`REASON_VERSION_NOT_HELD`]: the version the node
/// serves instead, so a caller can re-read everything from it.
pub const SERVED_VERSION_HEADER: &str = "tusk-served-version";
/// [`REASON_HEADER`]: the node has no version of the domain loaded yet.
pub const REASON_NOT_LOADED: &str = "not-loaded";

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;
    use prost_types::field_descriptor_proto::{Label, Type};

    #[test]
    fn descriptor_set_names_the_service() {
        let text = String::from_utf8_lossy(FILE_DESCRIPTOR_SET);
        assert!(text.contains("tusk.v1"));
        assert!(text.contains("MultiGet"));
    }

    /// `(name, number, type, label, type_name)` of each field of message `name`,
    /// as `tusk.proto` declares it.
    fn declared_fields(name: &str) -> Vec<(String, i32, Type, Label, String)> {
        let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("descriptor");
        let message = set
            .file
            .iter()
            .flat_map(|f| &f.message_type)
            .find(|m| m.name() == name)
            .unwrap_or_else(|| panic!("tusk.proto declares {name}"));
        message
            .field
            .iter()
            .map(|f| {
                (
                    f.name().to_string(),
                    f.number(),
                    f.r#type(),
                    f.label(),
                    f.type_name().to_string(),
                )
            })
            .collect()
    }

    /// The hand-written responses (`response.rs`) encode exactly these fields; a
    /// field added to or changed in the proto must be added there too.
    #[test]
    fn hand_written_responses_match_the_proto() {
        let field = |name: &str, number, ty, label, type_name: &str| {
            (name.to_string(), number, ty, label, type_name.to_string())
        };
        assert_eq!(
            declared_fields("GetResponse"),
            [
                field("found", 1, Type::Bool, Label::Optional, ""),
                field("value", 2, Type::Bytes, Label::Optional, ""),
                field("version", 3, Type::String, Label::Optional, ""),
            ]
        );
        assert_eq!(
            declared_fields("MultiGetResponse"),
            [
                field(
                    "entries",
                    1,
                    Type::Message,
                    Label::Repeated,
                    ".tusk.v1.Entry"
                ),
                field("version", 2, Type::String, Label::Optional, ""),
            ]
        );
    }

    #[test]
    fn messages_round_trip() {
        let req = v1::MultiGetRequest {
            domain: "d".into(),
            keys: vec![b"a".to_vec().into(), Default::default()],
            version: "v1".into(),
        };
        let bytes = req.encode_to_vec();
        let back = v1::MultiGetRequest::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(back, req);
    }

    #[test]
    fn service_name_matches_generated_code() {
        struct Dummy;
        #[tonic::async_trait]
        impl v1::tusk_server::Tusk for Dummy {
            async fn get(
                &self,
                _: tonic::Request<v1::GetRequest>,
            ) -> Result<tonic::Response<v1::GetResponse>, tonic::Status> {
                Err(tonic::Status::unimplemented("test"))
            }
            async fn multi_get(
                &self,
                _: tonic::Request<v1::MultiGetRequest>,
            ) -> Result<tonic::Response<v1::MultiGetResponse>, tonic::Status> {
                Err(tonic::Status::unimplemented("test"))
            }
            async fn status(
                &self,
                _: tonic::Request<v1::StatusRequest>,
            ) -> Result<tonic::Response<v1::StatusResponse>, tonic::Status> {
                Err(tonic::Status::unimplemented("test"))
            }
            async fn topology(
                &self,
                _: tonic::Request<v1::TopologyRequest>,
            ) -> Result<tonic::Response<v1::TopologyResponse>, tonic::Status> {
                Err(tonic::Status::unimplemented("test"))
            }
        }
        assert_eq!(
            <v1::tusk_server::TuskServer<Dummy> as tonic::server::NamedService>::NAME,
            SERVICE_NAME
        );
    }
}
