//! Protobuf messages and gRPC stubs for Portcullis, generated at build time from
//! `proto/portcullis/**`. One crate so that every service shares one set of types.

#![allow(clippy::all, missing_docs, unreachable_pub)]

pub mod events {
    pub mod v1 {
        tonic::include_proto!("portcullis.events.v1");
    }
}
pub mod directory {
    pub mod v1 {
        tonic::include_proto!("portcullis.directory.v1");
    }
}
pub mod authn {
    pub mod v1 {
        tonic::include_proto!("portcullis.authn.v1");
    }
}
pub mod token {
    pub mod v1 {
        tonic::include_proto!("portcullis.token.v1");
    }
}
pub mod federation {
    pub mod v1 {
        tonic::include_proto!("portcullis.federation.v1");
    }
}
pub mod credentials {
    pub mod v1 {
        tonic::include_proto!("portcullis.credentials.v1");
    }
}
