//! The AWS Lambda Invoke API: `POST /2015-03-31/functions/<name>/invocations` with
//! `X-Amz-Invocation-Type: RequestResponse`, SigV4-signed for the service `lambda`.

use crate::{AwsPost, Credentials, Failure, error_message, read_capped, transport_failure};

pub(crate) struct Call<'a> {
    pub endpoint: &'a str,
    /// The function's ARN or name, as the path carries it.
    pub function_name: &'a str,
    /// The region the call is signed for (the function's).
    pub region: &'a str,
    pub credentials: Option<&'a Credentials>,
}

pub(crate) async fn invoke(
    http: &reqwest::Client,
    call: &Call<'_>,
    body: Vec<u8>,
) -> Result<Vec<u8>, Failure> {
    let path = format!(
        "/2015-03-31/functions/{}/invocations",
        percent_encode(call.function_name)
    );
    let url = format!("{}{path}", call.endpoint.trim_end_matches('/'));
    let post = AwsPost {
        url: &url,
        region: call.region,
        service: "lambda",
        content_type: "application/json",
        target: "",
        credentials: call.credentials,
    };
    let request = post
        .request(http, &body)?
        .header("x-amz-invocation-type", "RequestResponse")
        .header("x-amz-log-type", "None");
    let response = request
        .body(body)
        .send()
        .await
        .map_err(|e| transport_failure(&e))?;
    let status = response.status();
    let function_error = response.headers().contains_key("x-amz-function-error");
    let error_type = response
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(':').next().unwrap_or(v).to_owned());
    let answer = read_capped(response).await?;
    if !status.is_success() {
        tracing::warn!(%status, ?error_type, "the Lambda API refused a trigger's invocation");
        return Err(Failure::Invocation(
            error_type.unwrap_or_else(|| format!("HTTP{}", status.as_u16())),
        ));
    }
    if function_error {
        return Err(Failure::Function(
            error_message(&answer).unwrap_or_else(|| "Unhandled".into()),
        ));
    }
    Ok(answer)
}

/// Encodes every byte but the unreserved ones (`:` of an ARN becomes `%3A`).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_arn_in_the_path_is_percent_encoded() {
        assert_eq!(
            super::percent_encode("arn:aws:lambda:us-east-1:1:function:f:$LATEST"),
            "arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af%3A%24LATEST"
        );
    }
}
