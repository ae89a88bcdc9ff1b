//! The AWS WAF API (`wafv2`) that teams put in front of Cognito: `POST /` with
//! `X-Amz-Target: AWSWAF_20190729.<Operation>`, signed by the administrator. IP sets
//! and web ACLs of the request's region (scope `REGIONAL`; user pools cannot sit behind
//! `CLOUDFRONT` ACLs), and their association with user pools, kept by the directory.
//! The rules are `portcullis-waf`'s; the gateway enforces them (`guard`).

mod guard;
mod ops;

use std::sync::{Arc, LazyLock};

use axum::response::Response;

use crate::cognito::{HttpRequest, OperationTable, prepare};
use crate::{AppState, error_response, json_response};

pub use guard::guard;
pub use ops::IMPLEMENTED;

pub const TARGET_PREFIX: &str = "AWSWAF_20190729";
const MODEL: &str = include_str!("../../contracts/wafv2.service-2.json");

pub static OPERATIONS: LazyLock<OperationTable> =
    LazyLock::new(|| OperationTable::from_model(MODEL));

pub(crate) async fn handle(
    state: Arc<AppState>,
    operation: &str,
    request: &HttpRequest<'_>,
) -> Response {
    let result = async {
        let call = prepare(&state, &OPERATIONS, operation, request)?;
        ops::run(&state, operation, call).await
    };
    match result.await {
        Ok(value) => json_response(&value, request.request_id),
        Err(err) => error_response(&err, request.request_id),
    }
}
