//! Builds the trigger invoker `[lambda]` asks for: the transport of every function,
//! with a NATS connection when one of them uses NATS.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use portcullis_config::{Config, LambdaTransport};
use portcullis_triggers::{CodeKeyring, Credentials, DefaultRoute, Invoker, Route, Settings};

/// Called at start, so that an unreachable NATS server stops the start instead of
/// failing the first sign-in.
pub async fn invoker(config: &Config) -> anyhow::Result<Arc<Invoker>> {
    let lambda = &config.lambda;
    let nats_url = lambda.nats_url.clone().or_else(|| config.nats_url.clone());
    let default = match lambda.transport {
        LambdaTransport::Lambda => DefaultRoute::Lambda {
            endpoint: lambda.endpoint.clone(),
        },
        LambdaTransport::Webhook => DefaultRoute::Webhook {
            url: lambda.webhook_url.clone().unwrap_or_default(),
            secret: lambda.webhook_secret.clone().unwrap_or_default(),
        },
        LambdaTransport::Nats => DefaultRoute::Nats {
            subject_prefix: lambda.nats_subject_prefix.clone(),
        },
    };
    let mut functions = HashMap::new();
    for (arn, function) in &lambda.functions {
        let name = arn.rsplit(':').next().unwrap_or(arn);
        let route = match function.transport {
            LambdaTransport::Lambda => Route::Lambda {
                endpoint: function
                    .endpoint
                    .clone()
                    .or_else(|| lambda.endpoint.clone()),
                function_name: function.function_name.clone(),
            },
            LambdaTransport::Webhook => Route::Webhook {
                url: function
                    .webhook_url
                    .clone()
                    .or_else(|| lambda.webhook_url.clone())
                    .unwrap_or_default(),
                secret: function
                    .webhook_secret
                    .clone()
                    .or_else(|| lambda.webhook_secret.clone())
                    .unwrap_or_default(),
            },
            LambdaTransport::Nats => Route::Nats {
                subject: function
                    .nats_subject
                    .clone()
                    .unwrap_or_else(|| format!("{}.{name}", lambda.nats_subject_prefix)),
            },
        };
        functions.insert(arn.clone(), route);
    }
    let uses_nats = lambda.transport == LambdaTransport::Nats
        || lambda
            .functions
            .values()
            .any(|f| f.transport == LambdaTransport::Nats);
    let nats = match (uses_nats, nats_url) {
        (true, Some(url)) => Some(
            async_nats::connect(&url)
                .await
                .context("connecting to NATS for the triggers")?,
        ),
        _ => None,
    };
    let credentials = lambda
        .access_key_id
        .clone()
        .zip(lambda.secret_access_key.clone())
        .map(|(access_key_id, secret_access_key)| Credentials {
            access_key_id,
            secret_access_key,
            session_token: lambda.session_token.clone(),
        });
    let code_keyring = match (lambda.code_key_bytes(), &lambda.kms_endpoint) {
        (Some(key), _) => Some(CodeKeyring::RawAes {
            namespace: lambda.code_key_namespace.clone(),
            key,
        }),
        (None, Some(endpoint)) => Some(CodeKeyring::Kms {
            endpoint: endpoint.clone(),
        }),
        (None, None) => None,
    };
    tracing::info!(transport = ?lambda.transport, functions = functions.len(), ?code_keyring, "trigger transports");
    let invoker = Invoker::new(Settings {
        default,
        functions,
        credentials,
        nats,
        code_keyring,
        ..Settings::default()
    })
    .context("the trigger invoker")?;
    Ok(Arc::new(invoker))
}
