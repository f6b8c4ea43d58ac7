//! A small REST client for the Weir server.

use serde::de::DeserializeOwned;
use weir_api::ErrorResponse;
use weir_api::system::{Readiness, ServerInfo};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0} is not a valid server URL (expected http://host:port or https://host)")]
    BadUrl(String),
    #[error("could not reach the Weir server at {url}: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the server answered {status}: {message}")]
    Api { status: u16, message: String },
    #[error("the server's answer could not be read: {0}")]
    Decode(String),
}

/// A client bound to one server.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(url: &str) -> Result<Self, ClientError> {
        let base = url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) || base.len() < 8 {
            return Err(ClientError::BadUrl(url.to_string()));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|source| ClientError::Unreachable {
                url: url.to_string(),
                source,
            })?;
        Ok(Client { base, http })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET /ready`; a 503 still carries a readiness report, so it is not an error.
    pub async fn readiness(&self) -> Result<Readiness, ClientError> {
        let url = format!("{}/ready", self.base);
        let res = self.send(self.http.get(&url), &url).await?;
        decode(res).await
    }

    /// `GET /api/v1/system/info`.
    pub async fn server_info(&self) -> Result<ServerInfo, ClientError> {
        let url = format!("{}/api/v1/system/info", self.base);
        let res = self.send(self.http.get(&url), &url).await?;
        if !res.status().is_success() {
            return Err(api_error(res).await);
        }
        decode(res).await
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, ClientError> {
        req.send().await.map_err(|source| ClientError::Unreachable {
            url: url.to_string(),
            source,
        })
    }
}

async fn decode<T: DeserializeOwned>(res: reqwest::Response) -> Result<T, ClientError> {
    let bytes = res
        .bytes()
        .await
        .map_err(|e| ClientError::Decode(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()))
}

async fn api_error(res: reqwest::Response) -> ClientError {
    let status = res.status().as_u16();
    let message = match res.json::<ErrorResponse>().await {
        Ok(body) => body.error.message,
        Err(_) => "no error description".to_string(),
    };
    ClientError::Api { status, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_are_accepted() {
        assert!(Client::new("http://127.0.0.1:8080/").is_ok());
        assert_eq!(
            Client::new("https://weir.example.com/")
                .expect("valid")
                .base_url(),
            "https://weir.example.com"
        );
        assert!(matches!(
            Client::new("127.0.0.1:8080"),
            Err(ClientError::BadUrl(_))
        ));
        assert!(matches!(
            Client::new("ftp://x"),
            Err(ClientError::BadUrl(_))
        ));
    }
}
