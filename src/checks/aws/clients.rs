//! The SDK configurations of a run, one per [`ClientKey`], loaded through the standard
//! `aws-config` chain on first use with their credentials resolved once (so "no credentials" and
//! "no region" are FAILs that say what to set), and the HTTP client of the Query API calls.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};

use super::ClientKey;
use super::errors::chain;
use crate::checks::Phase;
use crate::checks::common::short_message;
use crate::checks::common::tls as common_tls;
use crate::model::{Outcome, Reason};

/// What to set when no credentials were found.
const CREDENTIALS_HINT: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE or `profile`, AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN, or run where instance or container credentials are available";

/// Shared SDK configurations, one per [`ClientKey`], built on first use with their resolved
/// credentials, and the HTTP client of the EC2 Query API calls.
#[derive(Default)]
pub struct Clients {
    configs: tokio::sync::Mutex<BTreeMap<ClientKey, Result<Resolved, Outcome>>>,
    http: tokio::sync::OnceCell<reqwest::Client>,
}

/// A loaded configuration whose credentials were resolved once.
#[derive(Clone)]
pub(crate) struct Resolved {
    /// The SDK configuration, with the resolved credentials as its (static) provider.
    pub config: SdkConfig,
    /// The region every call of this configuration goes to.
    pub region: String,
    /// The credentials, for signing EC2 Query API calls.
    pub creds: Credentials,
}

impl Resolved {
    /// Whether temporary credentials expire within a minute (then they are resolved again).
    fn expiring(&self) -> bool {
        self.creds.expiry().is_some_and(|t| {
            t.duration_since(SystemTime::now())
                .map_or(true, |left| left < Duration::from_secs(60))
        })
    }
}

impl Clients {
    /// The configuration and credentials for `key`: loaded and resolved on first use, under the
    /// lock, so concurrent checks share one resolution (and one error).
    pub(crate) async fn get(&self, key: &ClientKey, phase: &Phase) -> Result<Resolved, Outcome> {
        let mut map = self.configs.lock().await;
        if let Some(entry) = map.get(key)
            && !entry.as_ref().is_ok_and(Resolved::expiring)
        {
            return entry.clone();
        }
        phase.set("loading the AWS configuration");
        let entry = resolve(key, phase).await;
        map.insert(key.clone(), entry.clone());
        entry
    }

    /// The HTTP client of the Query API calls, built on first use.
    pub(crate) async fn http(&self) -> Result<reqwest::Client, Outcome> {
        self.http
            .get_or_try_init(|| async {
                let tls = common_tls::client_config(None, false, rustls::DEFAULT_VERSIONS, None)
                    .map_err(|e| Outcome::fail(Reason::Internal, e))?;
                reqwest::Client::builder()
                    .use_preconfigured_tls(tls)
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("infracheck/", env!("CARGO_PKG_VERSION")))
                    .connect_timeout(Duration::from_secs(5))
                    .build()
                    .map_err(|e| {
                        Outcome::fail(Reason::Internal, format!("cannot build HTTP client: {e}"))
                    })
            })
            .await
            .cloned()
    }
}

/// Load the configuration through the standard chain and resolve its credentials now, so "no
/// credentials" and "no region" are FAILs that say what to set.
async fn resolve(key: &ClientKey, phase: &Phase) -> Result<Resolved, Outcome> {
    let mut config = load(key).await;
    let Some(region) = config.region().map(|r| r.as_ref().to_owned()) else {
        return Err(Outcome::fail(
            Reason::AwsCredentials,
            "no AWS region: set `region` in the check, AWS_REGION, or `region` in the profile",
        ));
    };
    if let Some(role) = &key.role_arn {
        let provider = aws_config::sts::AssumeRoleProvider::builder(role)
            .session_name("infracheck")
            .configure(&config)
            .build()
            .await;
        config = config
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
    }
    phase.set("resolving AWS credentials");
    let Some(provider) = config.credentials_provider() else {
        return Err(Outcome::fail(
            Reason::AwsCredentials,
            format!("no AWS credentials provider is configured: {CREDENTIALS_HINT}"),
        ));
    };
    let creds = provider
        .provide_credentials()
        .await
        .map_err(|e| credentials_error(&e, key.role_arn.is_some()))?;
    // The SDK clients sign with exactly these credentials: one resolution (one AssumeRole) per
    // configuration and run.
    let config = config
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(creds.clone()))
        .build();
    Ok(Resolved {
        config,
        region,
        creds,
    })
}

/// The SDK configuration of `key` from the standard chain, with its overrides.
async fn load(key: &ClientKey) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(r) = &key.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(p) = &key.profile {
        loader = loader.profile_name(p);
    }
    if let Some(u) = &key.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    loader.load().await
}

/// Credentials that could not be resolved: `aws.credentials` with what to set, or
/// `aws.unreachable` when a provider could not reach its endpoint.
fn credentials_error(e: &CredentialsError, assuming_role: bool) -> Outcome {
    let what = match (e, assuming_role) {
        (CredentialsError::CredentialsNotLoaded(_), _) => "no AWS credentials found",
        (_, true) => "assuming the role failed",
        _ => "no usable AWS credentials",
    };
    let text = chain(e);
    // A provider that calls an endpoint (AssumeRole, SSO) and cannot reach it: the credentials
    // may be fine, the network is not.
    if text.contains("dispatch failure: io error") || text.contains("dispatch failure: timeout") {
        return Outcome::fail(
            Reason::AwsUnreachable,
            format!(
                "{what}: AWS endpoint unreachable: {}",
                short_message(Reason::AwsUnreachable, &text)
            ),
        )
        .with_detail(crate::text!(
            "{what}: AWS endpoint unreachable (",
            text,
            ")"
        ));
    }
    // The hint first, so the short report line (checks::common::MESSAGE_MAX) keeps it; the
    // provider's chain is in `detail`.
    Outcome::fail(
        Reason::AwsCredentials,
        format!("{what}: {CREDENTIALS_HINT}"),
    )
    .with_detail(crate::text!("{what} (", text, "): {CREDENTIALS_HINT}"))
}
