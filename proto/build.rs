//! Compiles every `.proto` under `portcullis/` in pure Rust (protox), so building needs
//! no `protoc` binary; and writes, beside tonic's client of each service, its link
//! (`<package>.links.rs`): the same methods, answered by the service's implementation
//! when it serves in this process and by the client otherwise.

use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut files = Vec::new();
    collect(Path::new("portcullis"), &mut files)?;
    files.sort();
    println!("cargo:rerun-if-changed=portcullis");
    let descriptors = protox::compile(&files, ["."])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // One file of links per package (a package may span several .proto files).
    let mut by_package = std::collections::BTreeMap::<&str, String>::new();
    for file in &descriptors.file {
        let package = file.package();
        by_package
            .entry(package)
            .or_default()
            .push_str(&links(package, file));
    }
    for (package, code) in by_package {
        std::fs::write(out.join(format!("{package}.links.rs")), code)?;
    }
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}

/// The Rust path of a message type (`.portcullis.events.v1.Record`) as seen from the
/// module of `package`, where every package is `portcullis_proto::<name>::v1`.
fn rust_type(package: &str, full: &str) -> String {
    let full = full.trim_start_matches('.');
    let (type_package, name) = full.rsplit_once('.').unwrap_or(("", full));
    if type_package == package {
        return name.to_owned();
    }
    let mut parts = type_package.split('.').skip(1); // "portcullis"
    let (service, version) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    format!("super::super::{service}::{version}::{name}")
}

/// The link of every service of one file.
fn links(package: &str, file: &prost_types::FileDescriptorProto) -> String {
    use heck::ToSnakeCase;
    use std::fmt::Write;
    let mut code = String::new();
    for service in &file.service {
        let name = service.name();
        let module = name.to_snake_case();
        let link = format!("{name}Link");
        let trait_path = format!("{module}_server::{name}");
        // A server-streaming method's associated stream type, fixed to tonic's boxed
        // stream so the trait can be named as an object.
        let streams: Vec<String> = service
            .method
            .iter()
            .filter(|m| m.server_streaming())
            .map(|m| {
                format!(
                    "{}Stream = tonic::codegen::BoxStream<{}>",
                    m.name(),
                    rust_type(package, m.output_type())
                )
            })
            .collect();
        let object = if streams.is_empty() {
            format!("dyn {trait_path}")
        } else {
            format!("dyn {trait_path}<{}>", streams.join(", "))
        };
        let _ = write!(
            code,
            r#"
/// An implementation of the `{name}` service as `crate::local` registers it.
pub type Local{name} = {object};

/// The `{name}` service: its implementation when it serves in this process, else
/// over gRPC; the methods of `{name}Client`, with the same answers.
#[derive(Clone)]
pub struct {link}<T> {{
    remote: {module}_client::{name}Client<T>,
    address: std::sync::Arc<str>,
}}

impl<T> {link}<T>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + std::marker::Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + std::marker::Send,
{{
    /// Calls the service at `address`: its implementation when one is registered
    /// there in this process (`crate::local`), looked up on every call, else `remote`.
    pub fn new(remote: {module}_client::{name}Client<T>, address: &str) -> Self {{
        Self {{ remote, address: crate::local::key(address).into() }}
    }}

    /// `new` with tonic's client over `channel`.
    pub fn connect(channel: T, address: &str) -> Self {{
        Self::new({module}_client::{name}Client::new(channel), address)
    }}

    fn local(&self) -> Option<std::sync::Arc<Local{name}>> {{
        crate::local::lookup::<Local{name}>(&self.address)
    }}
"#
        );
        for method in &service.method {
            let rust = method.name().to_snake_case();
            let input = rust_type(package, method.input_type());
            let output = rust_type(package, method.output_type());
            // Streams always take the network: none is on a request path.
            let (answer, body) = if method.server_streaming() || method.client_streaming() {
                (
                    format!("tonic::codec::Streaming<{output}>"),
                    format!("self.remote.{rust}(request).await"),
                )
            } else {
                (
                    output,
                    format!(
                        "match self.local() {{
            Some(local) => local.{rust}(tonic::IntoRequest::into_request(request)).await,
            None => self.remote.{rust}(request).await,
        }}"
                    ),
                )
            };
            let _ = write!(
                code,
                r#"
    pub async fn {rust}(
        &mut self,
        request: impl tonic::IntoRequest<{input}>,
    ) -> std::result::Result<tonic::Response<{answer}>, tonic::Status> {{
        {body}
    }}
"#
            );
        }
        code.push_str("}\n");
    }
    code
}
