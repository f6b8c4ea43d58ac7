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
            return Err(api_error(res, path).await);
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
            return Err(api_error(res, path).await);
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

/// The server's generic answer for something missing or not visible to the caller.
const GENERIC_NOT_FOUND: &str = "no such resource";

async fn api_error(res: reqwest::Response, path: &str) -> ClientError {
    let status = res.status().as_u16();
    match res.json::<ErrorResponse>().await {
        Ok(body) => ClientError::Api {
            status,
            message: match missing_from_path(path) {
                Some(what) if status == 404 && body.error.message == GENERIC_NOT_FOUND => what,
                _ => body.error.message,
            },
            fields: body.error.fields,
        },
        Err(_) => ClientError::Api {
            status,
            message: "no error description".to_string(),
            fields: vec![],
        },
    }
}

/// What a 404 for `path` was about, from the path's `collection/name` pairs:
/// `/api/v1/models/iris/versions/3/stage` → `no version "3" of model "iris" that you can
/// see`. `None` for paths outside `/api/v1/` or without a named resource.
fn missing_from_path(path: &str) -> Option<String> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let rest = path.strip_prefix("/api/v1/")?;
    let parts: Vec<String> = rest
        .split('/')
        .filter(|p| !p.is_empty())
        .map(percent_decode)
        .collect();
    // `/flavors/{type}/{name}`: the type qualifies the flavor.
    if let [flavors, kind, name, ..] = parts.as_slice()
        && flavors == "flavors"
    {
        return Some(format!("no {kind} flavor {name:?}"));
    }
    // Words that end a path as an action (`/runs/compare`), not as a name.
    const ACTIONS: [&str; 6] = [
        "accept", "preview", "register", "rotate", "compare", "current",
    ];
    let named: Vec<(String, &str)> = parts
        .chunks_exact(2)
        .take_while(|pair| !ACTIONS.contains(&pair[1].as_str()))
        .map(|pair| (singular(&pair[0]), pair[1].as_str()))
        .collect();
    let ((kind, name), parents) = named.split_last()?;
    let mut text = format!("no {kind} {name:?}");
    for (kind, name) in parents.iter().rev() {
        text.push_str(&format!(" of {kind} {name:?}"));
    }
    text.push_str(" that you can see");
    Some(text)
}

/// `model-versions` → `model version`, `aliases` → `alias`.
fn singular(collection: &str) -> String {
    let words = collection.replace('-', " ");
    if let Some(stem) = words.strip_suffix("ses") {
        format!("{stem}s")
    } else if let Some(stem) = words.strip_suffix('s') {
        stem.to_string()
    } else {
        words
    }
}

/// `%2F` → `/`; a malformed escape is kept as it is.
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_resource_is_named_from_the_path() {
        assert_eq!(
            missing_from_path("/api/v1/models/nope/share").as_deref(),
            Some("no model \"nope\" that you can see")
        );
        assert_eq!(
            missing_from_path("/api/v1/models/iris/versions/3/stage").as_deref(),
            Some("no version \"3\" of model \"iris\" that you can see")
        );
        assert_eq!(
            missing_from_path("/api/v1/models/iris/aliases/champion").as_deref(),
            Some("no alias \"champion\" of model \"iris\" that you can see")
        );
        assert_eq!(
            missing_from_path("/api/v1/artifact-versions/a%2Fb?x=1").as_deref(),
            Some("no artifact version \"a/b\" that you can see")
        );
        assert_eq!(
            missing_from_path("/api/v1/stacks/prod%zz").as_deref(),
            Some("no stack \"prod%zz\" that you can see")
        );
        assert_eq!(
            missing_from_path("/api/v1/runs/r1/steps/train/start").as_deref(),
            Some("no step \"train\" of run \"r1\" that you can see")
        );
        assert_eq!(
            missing_from_path("/api/v1/flavors/artifact_store/gcs").as_deref(),
            Some("no artifact_store flavor \"gcs\"")
        );
        assert_eq!(missing_from_path("/api/v1/runs/compare?run=a&run=b"), None);
        assert_eq!(missing_from_path("/api/v1/invitations/accept"), None);
        assert_eq!(missing_from_path("/api/v1/runs"), None);
        assert_eq!(missing_from_path("/ready"), None);
    }

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
