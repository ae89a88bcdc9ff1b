//! One table of error codes. Each [`ErrorCode`] maps, in one place, to a gRPC status code,
//! an HTTP status and the Cognito `__type` name that AWS SDKs turn into exceptions.
//!
//! Services return an [`ApiError`] (code + client-facing message); it crosses gRPC as a
//! `tonic::Status` whose metadata carries the code, so the gateway renders exactly the
//! `__type` the service chose. Internal causes are logged where they happen and never
//! put in the message.

use std::fmt;

use tonic::metadata::MetadataValue;

/// Metadata key carrying the [`ErrorCode`] name across gRPC.
pub const CODE_METADATA_KEY: &str = "x-portcullis-error";

macro_rules! error_codes {
    ($($variant:ident => $grpc:ident, $http:literal;)*) => {
        /// Every error a client can see. The variant name is the Cognito `__type`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $($variant,)* }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The `__type` name of Cognito's error shape.
            pub fn type_name(self) -> &'static str {
                match self { $(ErrorCode::$variant => stringify!($variant),)* }
            }

            pub fn grpc_code(self) -> tonic::Code {
                match self { $(ErrorCode::$variant => tonic::Code::$grpc,)* }
            }

            pub fn http_status(self) -> u16 {
                match self { $(ErrorCode::$variant => $http,)* }
            }

            pub fn from_type_name(name: &str) -> Option<Self> {
                match name { $(stringify!($variant) => Some(ErrorCode::$variant),)* _ => None }
            }
        }
    };
}

error_codes! {
    InvalidParameterException => InvalidArgument, 400;
    InvalidPasswordException => InvalidArgument, 400;
    ResourceNotFoundException => NotFound, 400;
    UserNotFoundException => NotFound, 400;
    UsernameExistsException => AlreadyExists, 400;
    AliasExistsException => AlreadyExists, 400;
    UnsupportedUserStateException => FailedPrecondition, 400;
    UserNotConfirmedException => FailedPrecondition, 400;
    NotAuthorizedException => Unauthenticated, 400;
    PasswordResetRequiredException => FailedPrecondition, 400;
    CodeMismatchException => InvalidArgument, 400;
    ExpiredCodeException => FailedPrecondition, 400;
    LimitExceededException => ResourceExhausted, 400;
    CodeDeliveryFailureException => Unavailable, 400;
    TooManyRequestsException => ResourceExhausted, 400;
    TooManyFailedAttemptsException => ResourceExhausted, 400;
    ConcurrentModificationException => Aborted, 400;
    UnsupportedOperationException => Unimplemented, 400;
    UnknownOperationException => Unimplemented, 400;
    SerializationException => InvalidArgument, 400;
    MissingAuthenticationTokenException => Unauthenticated, 403;
    UnrecognizedClientException => Unauthenticated, 400;
    InvalidSignatureException => Unauthenticated, 400;
    IncompleteSignatureException => Unauthenticated, 400;
    InternalErrorException => Internal, 500;
    ServiceUnavailableException => Unavailable, 503;
    GroupExistsException => AlreadyExists, 400;
    ManagedLoginBrandingExistsException => AlreadyExists, 400;
    InvalidOAuthFlowException => InvalidArgument, 400;
    ScopeDoesNotExistException => InvalidArgument, 400;
    PreconditionNotMetException => FailedPrecondition, 400;
    // Token lifecycle.
    RefreshTokenReuseException => Unauthenticated, 400;
    UnauthorizedException => PermissionDenied, 400;
    UnsupportedTokenTypeException => InvalidArgument, 400;
    // Passkeys.
    WebAuthnNotEnabledException => FailedPrecondition, 400;
    WebAuthnConfigurationMissingException => FailedPrecondition, 400;
    WebAuthnChallengeNotFoundException => NotFound, 400;
    WebAuthnRelyingPartyMismatchException => InvalidArgument, 400;
    WebAuthnClientMismatchException => InvalidArgument, 400;
    WebAuthnOriginNotAllowedException => InvalidArgument, 400;
    WebAuthnCredentialNotSupportedException => InvalidArgument, 400;
    // MFA.
    EnableSoftwareTokenMFAException => InvalidArgument, 400;
    SoftwareTokenMFANotFoundException => FailedPrecondition, 400;
    FeatureUnavailableInTierException => FailedPrecondition, 400;
    // Threat protection.
    UserPoolAddOnNotEnabledException => FailedPrecondition, 400;
    // A web ACL refused the request (Cognito's answer for a WAF block).
    ForbiddenException => PermissionDenied, 403;
    // AWS WAF (`wafv2`).
    WAFInvalidParameterException => InvalidArgument, 400;
    WAFNonexistentItemException => NotFound, 400;
    WAFOptimisticLockException => Aborted, 400;
    WAFDuplicateItemException => AlreadyExists, 400;
    WAFAssociatedItemException => FailedPrecondition, 400;
    WAFInvalidOperationException => FailedPrecondition, 400;
    // Identity pools.
    ResourceConflictException => AlreadyExists, 400;
    InvalidIdentityPoolConfigurationException => FailedPrecondition, 400;
    ExternalServiceException => Unavailable, 400;
    DeveloperUserAlreadyRegisteredException => AlreadyExists, 400;
    // Federation.
    DuplicateProviderException => AlreadyExists, 400;
    UnsupportedIdentityProviderException => InvalidArgument, 400;
    // Triggers.
    UserLambdaValidationException => InvalidArgument, 400;
    UnexpectedLambdaException => Unavailable, 400;
    InvalidLambdaResponseException => FailedPrecondition, 400;
    // STS and IAM (query protocol: their codes carry no `Exception` suffix).
    MalformedPolicyDocument => InvalidArgument, 400;
    ValidationError => InvalidArgument, 400;
    InvalidInput => InvalidArgument, 400;
    AccessDenied => PermissionDenied, 403;
    EntityAlreadyExists => AlreadyExists, 409;
    NoSuchEntity => NotFound, 404;
    LimitExceeded => ResourceExhausted, 409;
    DeleteConflict => FailedPrecondition, 409;
    InvalidIdentityToken => Unauthenticated, 400;
    ExpiredTokenException => Unauthenticated, 400;
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name())
    }
}

/// An error as the client will see it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterException, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceNotFoundException, message)
    }

    pub fn not_authorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotAuthorizedException, message)
    }

    /// An unexpected failure. The cause must already have been logged by the caller;
    /// the client only learns that something went wrong.
    pub fn internal() -> Self {
        Self::new(ErrorCode::InternalErrorException, "Internal server error.")
    }

    pub fn unavailable() -> Self {
        Self::new(
            ErrorCode::ServiceUnavailableException,
            "Service is unavailable, retry later.",
        )
    }
}

impl From<ApiError> for tonic::Status {
    fn from(err: ApiError) -> Self {
        let mut status = tonic::Status::new(err.code.grpc_code(), err.message);
        status.metadata_mut().insert(
            CODE_METADATA_KEY,
            MetadataValue::from_static(err.code.type_name()),
        );
        status
    }
}

impl From<tonic::Status> for ApiError {
    /// Recovers the code a Portcullis service chose; a status without one (a transport
    /// failure, a peer that is down) becomes a generic error without its internal text.
    fn from(status: tonic::Status) -> Self {
        let code = status
            .metadata()
            .get(CODE_METADATA_KEY)
            .and_then(|v| v.to_str().ok())
            .and_then(ErrorCode::from_type_name);
        match code {
            Some(code) => ApiError::new(code, status.message()),
            None if status.code() == tonic::Code::Unavailable => ApiError::unavailable(),
            None => ApiError::internal(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_grpc() {
        for &code in ErrorCode::ALL {
            let status: tonic::Status = ApiError::new(code, "m").into();
            assert_eq!(status.code(), code.grpc_code());
            let back = ApiError::from(status);
            assert_eq!(back, ApiError::new(code, "m"));
            assert_eq!(ErrorCode::from_type_name(code.type_name()), Some(code));
        }
    }

    #[test]
    fn foreign_status_does_not_leak_its_message() {
        let err = ApiError::from(tonic::Status::internal("db password=hunter2"));
        assert_eq!(err.code, ErrorCode::InternalErrorException);
        assert!(!err.message.contains("hunter2"));
    }

    #[test]
    fn client_errors_are_400_and_server_errors_5xx() {
        assert_eq!(ErrorCode::UserNotFoundException.http_status(), 400);
        assert_eq!(ErrorCode::InternalErrorException.http_status(), 500);
        assert_eq!(
            ErrorCode::MissingAuthenticationTokenException.http_status(),
            403
        );
    }
}
