//! Protobuf messages and gRPC stubs for Portcullis, generated at build time from
//! `proto/portcullis/**`. One crate so that every service shares one set of types.

#![allow(clippy::all, missing_docs, unreachable_pub)]

pub mod local;

pub mod events {
    pub mod v1 {
        tonic::include_proto!("portcullis.events.v1");
        include!(concat!(env!("OUT_DIR"), "/portcullis.events.v1.links.rs"));
    }
}
pub mod directory {
    pub mod v1 {
        tonic::include_proto!("portcullis.directory.v1");
        include!(concat!(
            env!("OUT_DIR"),
            "/portcullis.directory.v1.links.rs"
        ));

        impl GetUserRequest {
            /// The user of the pool whose `sub` this is.
            pub fn by_sub(pool_id: &str, sub: &str) -> Self {
                Self {
                    pool_id: pool_id.to_owned(),
                    key: Some(get_user_request::Key::Sub(sub.to_owned())),
                    ..Self::default()
                }
            }
        }
    }
}
pub mod authn {
    pub mod v1 {
        tonic::include_proto!("portcullis.authn.v1");
        include!(concat!(env!("OUT_DIR"), "/portcullis.authn.v1.links.rs"));
    }
}
pub mod token {
    pub mod v1 {
        tonic::include_proto!("portcullis.token.v1");
        include!(concat!(env!("OUT_DIR"), "/portcullis.token.v1.links.rs"));
    }
}
pub mod federation {
    pub mod v1 {
        tonic::include_proto!("portcullis.federation.v1");
        include!(concat!(
            env!("OUT_DIR"),
            "/portcullis.federation.v1.links.rs"
        ));
    }
}
pub mod credentials {
    pub mod v1 {
        tonic::include_proto!("portcullis.credentials.v1");
        include!(concat!(
            env!("OUT_DIR"),
            "/portcullis.credentials.v1.links.rs"
        ));
    }
}
