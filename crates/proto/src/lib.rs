//! Generated gRPC contracts for Flowork (`proto/flowork/v1`): messages, clients and servers.

/// `flowork.v1`: every Flowork service's messages and stubs.
pub mod v1 {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("flowork.v1");
}

/// The encoded `FileDescriptorSet` of every Flowork proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("flowork_descriptor");
