//! The token service: per-pool signing keys (sealed at rest under a master key), ID and
//! access tokens as Cognito issues them, opaque refresh tokens, verification and JWKS.

pub mod issuer;
pub mod jwt;
pub mod keys;
mod overrides;

use std::future::Future;
use std::sync::Arc;

use portcullis_ephemeral::EphemeralStore;
use portcullis_eventlog::KeyValue;
use portcullis_proto::token::v1 as pb;
use portcullis_proto::token::v1::LocalToken;
use portcullis_proto::token::v1::token_server::{Token, TokenServer};
use portcullis_types::Clock;
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};

use issuer::Issuer;
pub use keys::MasterKey;

pub struct Deps {
    /// Bucket of sealed signing keys, one per pool.
    pub keys: Arc<dyn KeyValue>,
    pub master_key: MasterKey,
    /// Where refresh-token grants live until they expire.
    pub refresh_tokens: Arc<dyn EphemeralStore>,
    /// Tokens' `iss` is `<issuer_base>/<pool-id>`.
    pub issuer_base: String,
    pub clock: Arc<dyn Clock>,
    /// The deployment's peer key: callers must present it, and calls to peers carry it.
    pub peer: portcullis_runtime::PeerKey,
}

pub struct Application {
    listener: TcpListener,
    issuer: Arc<Issuer>,
    peer: portcullis_runtime::PeerKey,
}

impl Application {
    pub async fn build(listener: TcpListener, deps: Deps) -> anyhow::Result<Self> {
        let issuer = Issuer::new(
            deps.keys,
            deps.master_key,
            deps.refresh_tokens,
            &deps.issuer_base,
            deps.clock,
        );
        Ok(Self {
            listener,
            issuer: Arc::new(issuer),
            peer: deps.peer,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let service = Arc::new(TokenService {
            issuer: self.issuer,
        });
        // Callers in this process call the implementation itself (`portcullis_proto::local`).
        let _local = portcullis_proto::local::register::<LocalToken>(
            &self.listener.local_addr()?.to_string(),
            service.clone(),
        );
        let routes = portcullis_runtime::Routes::new(TokenServer::from_arc(service));
        portcullis_runtime::serve_grpc(
            self.listener,
            routes,
            "portcullis.token.v1.Token",
            self.peer,
            shutdown,
        )
        .await
    }
}

struct TokenService {
    issuer: Arc<Issuer>,
}

#[tonic::async_trait]
impl Token for TokenService {
    async fn issue_tokens(
        &self,
        req: Request<pb::IssueTokensRequest>,
    ) -> Result<Response<pb::TokenSet>, Status> {
        Ok(Response::new(self.issuer.issue(req.into_inner()).await?))
    }

    async fn resolve_refresh_token(
        &self,
        req: Request<pb::ResolveRefreshTokenRequest>,
    ) -> Result<Response<pb::RefreshGrant>, Status> {
        Ok(Response::new(
            self.issuer.resolve_refresh(&req.into_inner()).await?,
        ))
    }

    async fn verify_access_token(
        &self,
        req: Request<pb::VerifyAccessTokenRequest>,
    ) -> Result<Response<pb::VerifiedAccessToken>, Status> {
        Ok(Response::new(
            self.issuer
                .verify_access(&req.into_inner().access_token)
                .await?,
        ))
    }

    async fn get_jwks(
        &self,
        req: Request<pb::GetJwksRequest>,
    ) -> Result<Response<pb::Jwks>, Status> {
        let json = self.issuer.jwks(&req.into_inner().pool_id).await?;
        Ok(Response::new(pb::Jwks { json }))
    }

    async fn create_authorization_code(
        &self,
        req: Request<pb::AuthorizationCodeGrant>,
    ) -> Result<Response<pb::AuthorizationCode>, Status> {
        Ok(Response::new(
            self.issuer.create_code(req.into_inner()).await?,
        ))
    }

    async fn redeem_authorization_code(
        &self,
        req: Request<pb::RedeemAuthorizationCodeRequest>,
    ) -> Result<Response<pb::RedeemedCode>, Status> {
        Ok(Response::new(
            self.issuer.redeem_code(&req.into_inner()).await?,
        ))
    }

    async fn verify_id_token(
        &self,
        req: Request<pb::VerifyIdTokenRequest>,
    ) -> Result<Response<pb::VerifiedToken>, Status> {
        Ok(Response::new(
            self.issuer.verify_id(&req.into_inner().id_token).await?,
        ))
    }

    async fn sign_identity_token(
        &self,
        req: Request<pb::SignIdentityTokenRequest>,
    ) -> Result<Response<pb::SignedIdentityToken>, Status> {
        Ok(Response::new(
            self.issuer.sign_identity(&req.into_inner()).await?,
        ))
    }

    async fn verify_identity_token(
        &self,
        req: Request<pb::VerifyIdentityTokenRequest>,
    ) -> Result<Response<pb::VerifiedToken>, Status> {
        Ok(Response::new(
            self.issuer.verify_identity(&req.into_inner().token).await?,
        ))
    }
}
