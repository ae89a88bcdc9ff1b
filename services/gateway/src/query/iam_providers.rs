//! IAM's identity-provider actions: OpenID Connect and SAML providers.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::credentials::v1 as pb;

use super::xml::Xml;
use super::{Answer, Request, iso8601};

fn arn(req: &Request<'_>, member: &str) -> Result<pb::ProviderArn, ApiError> {
    Ok(pb::ProviderArn {
        caller: Some(req.caller()),
        arn: req.params.required(member)?.to_owned(),
    })
}

/// How long IAM reports a SAML provider's metadata valid when it does not say.
const SAML_VALIDITY_SECONDS: i64 = 100 * 365 * 24 * 3600;

pub async fn run(action: &str, req: Request<'_>) -> Answer {
    let mut iam = req.state.iam.clone();
    let p = &req.params;
    match action {
        "CreateOpenIDConnectProvider" => {
            let request = pb::CreateOpenIdConnectProviderRequest {
                caller: Some(req.caller()),
                url: p.required("Url")?.to_owned(),
                client_ids: p.list("ClientIDList"),
                thumbprints: p.list("ThumbprintList"),
                tags: p.tags("Tags"),
            };
            let tags = request.tags.clone();
            let created = iam.create_open_id_connect_provider(request).await?;
            let mut xml = Xml::new();
            xml.text("OpenIDConnectProviderArn", &created.into_inner().arn);
            if !tags.is_empty() {
                xml.tags(&tags);
            }
            Ok(Some(xml))
        }
        "GetOpenIDConnectProvider" => {
            let request = arn(&req, "OpenIDConnectProviderArn")?;
            let provider = iam
                .get_open_id_connect_provider(request)
                .await?
                .into_inner();
            let mut xml = Xml::new();
            xml.text("Url", &provider.url)
                .members("ClientIDList", &provider.client_ids, |xml, id| {
                    xml.content(id);
                })
                .members("ThumbprintList", &provider.thumbprints, |xml, t| {
                    xml.content(t);
                })
                .text("CreateDate", &iso8601(provider.create_date_ms / 1000))
                .tags(&provider.tags);
            Ok(Some(xml))
        }
        "DeleteOpenIDConnectProvider" => {
            let request = arn(&req, "OpenIDConnectProviderArn")?;
            iam.delete_open_id_connect_provider(request).await?;
            Ok(None)
        }
        "ListOpenIDConnectProviders" => {
            let listed = iam
                .list_open_id_connect_providers(pb::ListProvidersRequest {})
                .await?
                .into_inner();
            let mut xml = Xml::new();
            xml.members("OpenIDConnectProviderList", &listed.arns, |xml, arn| {
                xml.text("Arn", arn);
            });
            Ok(Some(xml))
        }
        "CreateSAMLProvider" => {
            let request = pb::CreateSamlProviderRequest {
                caller: Some(req.caller()),
                name: p.required("Name")?.to_owned(),
                saml_metadata_document: p.required("SAMLMetadataDocument")?.to_owned(),
                tags: p.tags("Tags"),
            };
            let tags = request.tags.clone();
            let created = iam.create_saml_provider(request).await?;
            let mut xml = Xml::new();
            xml.text("SAMLProviderArn", &created.into_inner().arn);
            if !tags.is_empty() {
                xml.tags(&tags);
            }
            Ok(Some(xml))
        }
        "GetSAMLProvider" => {
            let request = arn(&req, "SAMLProviderArn")?;
            let provider = iam.get_saml_provider(request).await?.into_inner();
            let created = provider.create_date_ms / 1000;
            let mut xml = Xml::new();
            xml.text("SAMLMetadataDocument", &provider.saml_metadata_document)
                .text("CreateDate", &iso8601(created))
                .text("ValidUntil", &iso8601(created + SAML_VALIDITY_SECONDS))
                .tags(&provider.tags);
            Ok(Some(xml))
        }
        "DeleteSAMLProvider" => {
            let request = arn(&req, "SAMLProviderArn")?;
            iam.delete_saml_provider(request).await?;
            Ok(None)
        }
        "ListSAMLProviders" => {
            let listed = iam
                .list_saml_providers(pb::ListProvidersRequest {})
                .await?
                .into_inner();
            let mut xml = Xml::new();
            xml.members("SAMLProviderList", &listed.providers, |xml, provider| {
                let created = provider.create_date_ms / 1000;
                xml.text("Arn", &provider.arn)
                    .text("ValidUntil", &iso8601(created + SAML_VALIDITY_SECONDS))
                    .text("CreateDate", &iso8601(created));
            });
            Ok(Some(xml))
        }
        _ => Err(ApiError::new(
            ErrorCode::UnknownOperationException,
            format!("Could not find operation {action} for version 2010-05-08"),
        )),
    }
}
