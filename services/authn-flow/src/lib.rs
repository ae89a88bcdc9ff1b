//! The authentication service: sign-up and sign-in state machines. It owns password
//! credentials (argon2id hashes, kept out of the event log) and asks `directory` for
//! users and `token` for tokens.

mod account;
mod admin;
mod attempt;
mod auth_events;
mod auth_session;
mod challenges;
pub mod codes;
mod compromised;
pub mod context;
pub mod credential;
mod custom_auth;
mod delivery;
pub mod devices;
pub mod flows;
pub mod lockout;
pub mod machine;
mod mfa_flow;
mod migration;
pub mod oauth;
mod passkeys;
pub mod password;
mod passwords;
pub mod risk;
pub mod secret_hash;
pub mod sender;
mod sessions;
mod sign_in;
pub mod srp;
mod srp_flow;
pub mod totp;
mod totp_flow;
mod triggers;
mod user_auth;
pub mod webauthn;

use std::future::Future;
use std::sync::Arc;

use portcullis_eventlog::KeyValue;
use portcullis_eventlog::cache::LogCache;
use portcullis_proto::authn::v1 as pb;
use portcullis_proto::authn::v1::LocalAuthn;
use portcullis_proto::authn::v1::authn_server::{Authn, AuthnServer};
use portcullis_proto::directory::v1::DirectoryLink;
use portcullis_proto::federation::v1::FederationLink;
use portcullis_proto::token::v1::TokenLink;
use portcullis_types::Clock;
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};

use context::Flows;
use password::PasswordHasherPool;

pub struct Deps {
    /// The event log, which the caches of pools and app clients follow.
    pub log: Arc<dyn portcullis_eventlog::EventLog>,
    /// Address of a directory replica (or its load balancer).
    pub directory: String,
    /// Address of a token replica.
    pub token: String,
    /// Address of a federation replica.
    pub federation: String,
    pub credentials: Arc<dyn KeyValue>,
    /// Password hashes the directory imported with users (`<pool>/<sub>`), read at the
    /// user's first sign-in.
    pub imported_passwords: Arc<dyn KeyValue>,
    pub clock: Arc<dyn Clock>,
    /// Threads hashing passwords; defaults to the number of cores.
    pub hash_threads: Option<usize>,
    /// Where one-time codes live until used or expired.
    pub ephemeral: Arc<dyn portcullis_ephemeral::EphemeralStore>,
    /// How codes reach users.
    pub sender: Arc<dyn sender::MessageSender>,
    /// The deployment's peer key: callers must present it, and calls to peers carry it.
    pub peer: portcullis_runtime::PeerKey,
    /// Calls the pools' triggers.
    pub triggers: Arc<portcullis_triggers::Invoker>,
    /// The breached-password corpus, when the operator gave one.
    pub breached: Option<Arc<portcullis_breached::Corpus>>,
    /// The gateway's public URL, the base of the feedback links in risk notifications.
    pub public_base_url: String,
    /// The IP geolocation database, when the operator gave one.
    pub geo: Option<Arc<portcullis_geo::Database>>,
}

pub struct Application {
    listener: TcpListener,
    flows: Flows,
    peer: portcullis_runtime::PeerKey,
}

/// Requests allowed to wait for a hashing thread before new ones are refused.
const HASH_QUEUE_PER_THREAD: usize = 64;

impl Application {
    pub async fn build(listener: TcpListener, deps: Deps) -> anyhow::Result<Self> {
        let threads = deps
            .hash_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
        let watch = portcullis_eventlog::cache::Watch {
            scope_kinds: portcullis_types::POOL_CONFIGURATION_KINDS,
            stream_kinds: portcullis_types::USER_KINDS,
        };
        let flows = Flows {
            cache: LogCache::start(deps.log, watch).await?,
            directory: DirectoryLink::connect(
                portcullis_runtime::channel(&deps.directory, &deps.peer)?,
                &deps.directory,
            ),
            token: TokenLink::connect(
                portcullis_runtime::channel(&deps.token, &deps.peer)?,
                &deps.token,
            ),
            federation: FederationLink::connect(
                portcullis_runtime::channel(&deps.federation, &deps.peer)?,
                &deps.federation,
            ),
            credentials: deps.credentials,
            imported_passwords: deps.imported_passwords,
            hasher: Arc::new(PasswordHasherPool::new(
                threads,
                threads * HASH_QUEUE_PER_THREAD,
            )),
            clock: deps.clock,
            codes: codes::Codes::new(deps.ephemeral.clone()),
            sessions: deps.ephemeral,
            delivery_time: Arc::default(),
            sender: deps.sender,
            triggers: deps.triggers,
            breached: deps.breached,
            public_base_url: deps.public_base_url,
            geo: deps.geo,
        };
        Ok(Self {
            listener,
            flows,
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
        let service = Arc::new(AuthnService { flows: self.flows });
        // Callers in this process call the implementation itself (`portcullis_proto::local`).
        let _local = portcullis_proto::local::register::<LocalAuthn>(
            &self.listener.local_addr()?.to_string(),
            service.clone(),
        );
        let routes = portcullis_runtime::Routes::new(AuthnServer::from_arc(service));
        portcullis_runtime::serve_grpc(
            self.listener,
            routes,
            "portcullis.authn.v1.Authn",
            self.peer,
            shutdown,
        )
        .await
    }
}

struct AuthnService {
    flows: Flows,
}

#[tonic::async_trait]
impl Authn for AuthnService {
    async fn sign_up(
        &self,
        req: Request<pb::SignUpRequest>,
    ) -> Result<Response<pb::SignUpResponse>, Status> {
        Ok(Response::new(self.flows.sign_up(req.into_inner()).await?))
    }

    async fn initiate_auth(
        &self,
        req: Request<pb::InitiateAuthRequest>,
    ) -> Result<Response<pb::InitiateAuthResponse>, Status> {
        // Boxed: a sign-in's future holds every step it may take.
        let answer = Box::pin(self.flows.initiate_auth(req.into_inner())).await?;
        Ok(Response::new(answer))
    }

    async fn confirm_sign_up(
        &self,
        req: Request<pb::ConfirmSignUpRequest>,
    ) -> Result<Response<pb::ConfirmSignUpResponse>, Status> {
        Ok(Response::new(
            self.flows.confirm_sign_up(req.into_inner()).await?,
        ))
    }

    async fn admin_confirm_sign_up(
        &self,
        req: Request<pb::AdminConfirmSignUpRequest>,
    ) -> Result<Response<pb::AdminConfirmSignUpResponse>, Status> {
        Ok(Response::new(
            self.flows.admin_confirm_sign_up(req.into_inner()).await?,
        ))
    }

    async fn resend_confirmation_code(
        &self,
        req: Request<pb::ResendConfirmationCodeRequest>,
    ) -> Result<Response<pb::ResendConfirmationCodeResponse>, Status> {
        Ok(Response::new(
            self.flows
                .resend_confirmation_code(req.into_inner())
                .await?,
        ))
    }

    async fn forgot_password(
        &self,
        req: Request<pb::ForgotPasswordRequest>,
    ) -> Result<Response<pb::ForgotPasswordResponse>, Status> {
        Ok(Response::new(
            self.flows.forgot_password(req.into_inner()).await?,
        ))
    }

    async fn confirm_forgot_password(
        &self,
        req: Request<pb::ConfirmForgotPasswordRequest>,
    ) -> Result<Response<pb::ConfirmForgotPasswordResponse>, Status> {
        Ok(Response::new(
            self.flows.confirm_forgot_password(req.into_inner()).await?,
        ))
    }
    async fn admin_create_user(
        &self,
        req: Request<pb::AdminCreateUserRequest>,
    ) -> Result<Response<portcullis_proto::directory::v1::User>, Status> {
        Ok(Response::new(
            self.flows.admin_create_user(req.into_inner()).await?,
        ))
    }

    async fn admin_set_user_password(
        &self,
        req: Request<pb::AdminSetUserPasswordRequest>,
    ) -> Result<Response<pb::AdminSetUserPasswordResponse>, Status> {
        Ok(Response::new(
            self.flows.admin_set_user_password(req.into_inner()).await?,
        ))
    }

    async fn admin_remove_password(
        &self,
        req: Request<pb::AdminRemovePasswordRequest>,
    ) -> Result<Response<pb::AdminSetUserPasswordResponse>, Status> {
        Ok(Response::new(
            self.flows.admin_remove_password(req.into_inner()).await?,
        ))
    }

    async fn admin_set_user_password_hash(
        &self,
        req: Request<pb::AdminSetUserPasswordHashRequest>,
    ) -> Result<Response<pb::AdminSetUserPasswordResponse>, Status> {
        Ok(Response::new(
            self.flows
                .admin_set_user_password_hash(req.into_inner())
                .await?,
        ))
    }

    async fn admin_reset_user_password(
        &self,
        req: Request<pb::AdminResetUserPasswordRequest>,
    ) -> Result<Response<pb::AdminResetUserPasswordResponse>, Status> {
        Ok(Response::new(
            self.flows
                .admin_reset_user_password(req.into_inner())
                .await?,
        ))
    }

    async fn update_user_attributes(
        &self,
        req: Request<pb::UpdateUserAttributesRequest>,
    ) -> Result<Response<pb::UpdateUserAttributesResponse>, Status> {
        Ok(Response::new(
            self.flows.update_user_attributes(req.into_inner()).await?,
        ))
    }

    async fn change_password(
        &self,
        req: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        Ok(Response::new(
            self.flows.change_password(req.into_inner()).await?,
        ))
    }

    async fn get_user_attribute_verification_code(
        &self,
        req: Request<pb::GetUserAttributeVerificationCodeRequest>,
    ) -> Result<Response<pb::GetUserAttributeVerificationCodeResponse>, Status> {
        Ok(Response::new(
            self.flows
                .get_user_attribute_verification_code(req.into_inner())
                .await?,
        ))
    }

    async fn verify_user_attribute(
        &self,
        req: Request<pb::VerifyUserAttributeRequest>,
    ) -> Result<Response<pb::VerifyUserAttributeResponse>, Status> {
        Ok(Response::new(
            self.flows.verify_user_attribute(req.into_inner()).await?,
        ))
    }

    async fn respond_to_auth_challenge(
        &self,
        req: Request<pb::RespondToAuthChallengeRequest>,
    ) -> Result<Response<pb::InitiateAuthResponse>, Status> {
        // Boxed: an answer's future holds every step the sign-in may take after it.
        let answer = Box::pin(self.flows.respond_to_auth_challenge(req.into_inner())).await?;
        Ok(Response::new(answer))
    }

    async fn get_tokens_from_refresh_token(
        &self,
        req: Request<pb::GetTokensFromRefreshTokenRequest>,
    ) -> Result<Response<pb::InitiateAuthResponse>, Status> {
        Ok(Response::new(
            self.flows
                .get_tokens_from_refresh_token(req.into_inner())
                .await?,
        ))
    }

    async fn revoke_token(
        &self,
        req: Request<pb::RevokeTokenRequest>,
    ) -> Result<Response<pb::RevokeTokenResponse>, Status> {
        Ok(Response::new(
            self.flows.revoke_token(req.into_inner()).await?,
        ))
    }

    async fn count_rate(
        &self,
        req: Request<pb::CountRateRequest>,
    ) -> Result<Response<pb::CountRateResponse>, Status> {
        let req = req.into_inner();
        if !req.key.starts_with("waf-rate/") {
            return Err(portcullis_errors::ApiError::invalid_parameter("Not a rate key.").into());
        }
        let ttl = std::time::Duration::from_secs(req.ttl_secs.clamp(1, 3_600));
        let count = self
            .flows
            .sessions
            .incr(&req.key, ttl)
            .await
            .map_err(|err| {
                tracing::error!(error = %err, "a web ACL's rate could not be counted");
                portcullis_errors::ApiError::unavailable()
            })?;
        Ok(Response::new(pb::CountRateResponse {
            count: u64::try_from(count).unwrap_or(0),
        }))
    }

    async fn start_web_authn_registration(
        &self,
        req: Request<pb::StartWebAuthnRegistrationRequest>,
    ) -> Result<Response<pb::StartWebAuthnRegistrationResponse>, Status> {
        Ok(Response::new(
            self.flows
                .start_web_authn_registration(req.into_inner())
                .await?,
        ))
    }

    async fn complete_web_authn_registration(
        &self,
        req: Request<pb::CompleteWebAuthnRegistrationRequest>,
    ) -> Result<Response<pb::CompleteWebAuthnRegistrationResponse>, Status> {
        Ok(Response::new(
            self.flows
                .complete_web_authn_registration(req.into_inner())
                .await?,
        ))
    }

    async fn list_web_authn_credentials(
        &self,
        req: Request<pb::ListWebAuthnCredentialsRequest>,
    ) -> Result<Response<pb::ListWebAuthnCredentialsResponse>, Status> {
        Ok(Response::new(
            self.flows
                .list_web_authn_credentials(req.into_inner())
                .await?,
        ))
    }

    async fn delete_web_authn_credential(
        &self,
        req: Request<pb::DeleteWebAuthnCredentialRequest>,
    ) -> Result<Response<pb::DeleteWebAuthnCredentialResponse>, Status> {
        Ok(Response::new(
            self.flows
                .delete_web_authn_credential(req.into_inner())
                .await?,
        ))
    }

    async fn confirm_device(
        &self,
        req: Request<pb::ConfirmDeviceRequest>,
    ) -> Result<Response<pb::ConfirmDeviceResponse>, Status> {
        Ok(Response::new(
            self.flows.confirm_device(req.into_inner()).await?,
        ))
    }

    async fn associate_software_token(
        &self,
        req: Request<pb::AssociateSoftwareTokenRequest>,
    ) -> Result<Response<pb::AssociateSoftwareTokenResponse>, Status> {
        Ok(Response::new(
            self.flows
                .associate_software_token(req.into_inner())
                .await?,
        ))
    }

    async fn verify_software_token(
        &self,
        req: Request<pb::VerifySoftwareTokenRequest>,
    ) -> Result<Response<pb::VerifySoftwareTokenResponse>, Status> {
        Ok(Response::new(
            self.flows.verify_software_token(req.into_inner()).await?,
        ))
    }

    async fn authorize(
        &self,
        req: Request<pb::AuthorizeRequest>,
    ) -> Result<Response<pb::AuthorizeResponse>, Status> {
        Ok(Response::new(self.flows.authorize(req.into_inner()).await?))
    }

    async fn o_auth_token(
        &self,
        req: Request<pb::OAuthTokenRequest>,
    ) -> Result<Response<pb::OAuthTokenResponse>, Status> {
        Ok(Response::new(
            self.flows.oauth_token(req.into_inner()).await?,
        ))
    }

    async fn end_browser_session(
        &self,
        req: Request<pb::EndBrowserSessionRequest>,
    ) -> Result<Response<pb::EndBrowserSessionResponse>, Status> {
        Ok(Response::new(
            self.flows.end_browser_session(req.into_inner()).await?,
        ))
    }

    async fn federated_callback(
        &self,
        req: Request<pb::FederatedCallbackRequest>,
    ) -> Result<Response<pb::FederatedCallbackResponse>, Status> {
        Ok(Response::new(
            self.flows.federated_callback(req.into_inner()).await?,
        ))
    }
}
