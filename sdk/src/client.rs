//! A REST client for the Weir server.

use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;
use weir_api::ErrorResponse;
use weir_api::identity::{
    ApiKey, CreateApiKeyRequest, CreateUserRequest, CreatedApiKey, SignInRequest, User,
};
use weir_api::pagination::Page;
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
    #[error("{}", describe(.status, .message, .fields))]
    Api {
        status: u16,
        message: String,
        fields: Vec<weir_api::FieldError>,
    },
    #[error("the server's answer could not be read: {0}")]
    Decode(String),
}

fn describe(status: &u16, message: &str, fields: &[weir_api::FieldError]) -> String {
    let mut text = format!("the server answered {status}: {message}");
    for f in fields {
        text.push_str(&format!("\n  {}: {}", f.field, f.message));
    }
    text
}

/// A client bound to one server, optionally holding an API key.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    api_key: Option<String>,
}

impl ClientError {
    /// The HTTP status of an error answer from the server.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The fields an error answer names (empty for other errors).
    pub fn fields(&self) -> &[weir_api::FieldError] {
        match self {
            ClientError::Api { fields, .. } => fields,
            _ => &[],
        }
    }
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
            // Only for `sign_in`: the session cookie that then creates an API key.
            .cookie_store(true)
            .build()
            .map_err(|source| ClientError::Unreachable {
                url: url.to_string(),
                source,
            })?;
        Ok(Client {
            base,
            http,
            api_key: None,
        })
    }

    /// Authenticates every following call with this API key.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method, self.url(path));
        match &self.api_key {
            Some(key) => req = req.bearer_auth(key),
            // A session-authenticated change must say it comes from the server's origin.
            None => req = req.header(reqwest::header::ORIGIN, &self.base),
        }
        req
    }

    async fn call<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        path: &str,
    ) -> Result<T, ClientError> {
        let res = req
            .send()
            .await
            .map_err(|source| ClientError::Unreachable {
                url: self.url(path),
                source,
            })?;
        if !res.status().is_success() {
            return Err(api_error(res).await);
        }
        decode(res).await
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call(self.request(reqwest::Method::GET, path), path)
            .await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.call(self.request(reqwest::Method::POST, path).json(body), path)
            .await
    }

    pub async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.call(self.request(reqwest::Method::PUT, path).json(body), path)
            .await
    }

    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.call(self.request(reqwest::Method::PATCH, path).json(body), path)
            .await
    }

    /// A call whose answer has no body (204).
    pub async fn send_empty<B: Serialize>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<(), ClientError> {
        let mut req = self.request(method, path);
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req
            .send()
            .await
            .map_err(|source| ClientError::Unreachable {
                url: self.url(path),
                source,
            })?;
        if !res.status().is_success() {
            return Err(api_error(res).await);
        }
        Ok(())
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call(self.request(reqwest::Method::DELETE, path), path)
            .await
    }

    /// `GET /ready`; a 503 still carries a readiness report, so it is not an error.
    pub async fn readiness(&self) -> Result<Readiness, ClientError> {
        let res = self
            .request(reqwest::Method::GET, "/ready")
            .send()
            .await
            .map_err(|source| ClientError::Unreachable {
                url: self.url("/ready"),
                source,
            })?;
        decode(res).await
    }

    pub async fn server_info(&self) -> Result<ServerInfo, ClientError> {
        self.get("/api/v1/system/info").await
    }

    /// Signs in with a password (a session for this client only).
    pub async fn sign_in(&self, name: &str, password: &str) -> Result<User, ClientError> {
        let body = SignInRequest {
            name: name.to_string(),
            password: password.to_string(),
        };
        self.post("/api/v1/sessions", &body).await
    }

    pub async fn me(&self) -> Result<User, ClientError> {
        self.get("/api/v1/users/me").await
    }

    pub async fn create_api_key(
        &self,
        req: &CreateApiKeyRequest,
    ) -> Result<CreatedApiKey, ClientError> {
        self.post("/api/v1/api-keys", req).await
    }

    pub async fn list_api_keys(
        &self,
        user: Option<Uuid>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<ApiKey>, ClientError> {
        let mut path = format!("/api/v1/api-keys?limit={limit}");
        if let Some(user) = user {
            path.push_str(&format!("&user_id={user}"));
        }
        if let Some(c) = cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        self.get(&path).await
    }

    pub async fn revoke_api_key(&self, id: Uuid) -> Result<ApiKey, ClientError> {
        self.delete(&format!("/api/v1/api-keys/{id}")).await
    }

    pub async fn list_users(
        &self,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<User>, ClientError> {
        let mut path = format!("/api/v1/users?limit={limit}");
        if let Some(c) = cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        self.get(&path).await
    }

    pub async fn create_user(&self, req: &CreateUserRequest) -> Result<User, ClientError> {
        self.post("/api/v1/users", req).await
    }

    pub async fn deactivate_user(&self, id: Uuid) -> Result<User, ClientError> {
        self.post(
            &format!("/api/v1/users/{id}/deactivate"),
            &serde_json::json!({}),
        )
        .await
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
    match res.json::<ErrorResponse>().await {
        Ok(body) => ClientError::Api {
            status,
            message: body.error.message,
            fields: body.error.fields,
        },
        Err(_) => ClientError::Api {
            status,
            message: "no error description".to_string(),
            fields: vec![],
        },
    }
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

    #[test]
    fn field_errors_are_listed_in_the_message() {
        let e = ClientError::Api {
            status: 422,
            message: "some fields are invalid".into(),
            fields: vec![weir_api::FieldError::new("name", "must not be empty")],
        };
        assert_eq!(
            e.to_string(),
            "the server answered 422: some fields are invalid\n  name: must not be empty"
        );
    }
}
