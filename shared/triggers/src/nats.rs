//! A function behind NATS: the event is sent as a request on the function's subject and
//! the reply is the answer. A reply with a `Function-Error` header, or shaped as a Lambda
//! error (`{"errorMessage": ...}`), is the function's failure; no responder is an
//! invocation failure.

use async_nats::HeaderMap;

use crate::{Failure, error_message};

pub(crate) async fn invoke(
    client: &async_nats::Client,
    subject: &str,
    arn: &str,
    body: Vec<u8>,
) -> Result<Vec<u8>, Failure> {
    let mut headers = HeaderMap::new();
    headers.insert("Portcullis-Function-Arn", arn);
    let reply = client
        .request_with_headers(subject.to_owned(), headers, body.into())
        .await
        .map_err(|err| {
            use async_nats::client::RequestErrorKind;
            match err.kind() {
                RequestErrorKind::NoResponders => Failure::Invocation("NoResponders".into()),
                RequestErrorKind::TimedOut => Failure::Timeout,
                _ => Failure::Invocation("NatsError".into()),
            }
        })?;
    let failed = reply
        .headers
        .as_ref()
        .is_some_and(|h| h.get("Function-Error").is_some());
    let answer = reply.payload.to_vec();
    if failed {
        return Err(Failure::Function(
            error_message(&answer).unwrap_or_else(|| "Unhandled".into()),
        ));
    }
    match error_message(&answer) {
        Some(message) => Err(Failure::Function(message)),
        None => Ok(answer),
    }
}
