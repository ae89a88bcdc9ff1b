//! Tracing setup: structured logs to stderr (text or JSON), and, when an OTLP endpoint
//! is configured, spans exported to an OpenTelemetry collector. Off by default: nothing
//! leaves the process unless asked. Spans carry fields, never secrets.

use std::io::IsTerminal;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// What the process wants from telemetry.
pub struct Settings<'a> {
    /// Log filter (`info`, `portcullis_directory=debug`); `RUST_LOG` wins when set.
    pub filter: &'a str,
    pub json: bool,
    /// OTLP/HTTP endpoint of a collector (e.g. `http://127.0.0.1:4318`); `None` = off.
    pub otlp_endpoint: Option<&'a str>,
    /// `service.name` of exported spans.
    pub service_name: &'a str,
}

/// Flushes exported spans when dropped; keep it alive for the life of the process.
pub struct Guard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Installs the global subscriber. Calling it twice is harmless (the second call
/// installs nothing), which keeps tests simple.
pub fn init(settings: &Settings<'_>) -> anyhow::Result<Guard> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(settings.filter));
    let ansi = std::io::stderr().is_terminal();
    let fmt = if settings.json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
            .boxed()
    };
    let provider = settings
        .otlp_endpoint
        .map(|endpoint| otlp_provider(endpoint, settings.service_name))
        .transpose()?;
    let otel = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("portcullis")));
    // W3C trace context is how services pass a trace along (see portcullis-runtime).
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init();
    Ok(Guard { provider })
}

fn otlp_provider(endpoint: &str, service_name: &str) -> anyhow::Result<SdkTracerProvider> {
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()?;
    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// For tests: logs only when `TEST_LOG` is set, so test output stays quiet.
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_some() {
        let settings = Settings {
            filter: "debug",
            json: false,
            otlp_endpoint: None,
            service_name: "test",
        };
        let _ = init(&settings).map(std::mem::forget);
    }
}
