//! Server functions of the artifact version page: the version with its lineage and
//! metadata, and its visualizations read from the artifact store and made safe to show.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use weir_api::runs::{ArtifactVersionDetail, VisualizationKind};

use crate::AppError;

/// The largest visualization read to be shown on the page; larger ones are links.
pub const MAX_SHOWN_BYTES: i64 = 1 << 20;
/// Rows of a CSV visualization shown.
pub const MAX_CSV_ROWS: usize = 200;

/// A visualization, ready to show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Shown {
    Json(serde_json::Value),
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
        more_rows: bool,
    },
    /// Markdown turned into HTML with raw HTML, scripts and unsafe links removed.
    Markdown(String),
    Text(String),
    /// Served by the REST API (`src`), shown as an image.
    Image(String),
    /// Too large to show here: the link downloads it.
    TooLarge(i64),
    /// The store could not give it; why, in words.
    Unreadable(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShownVisualization {
    pub kind: VisualizationKind,
    /// Where the REST API serves it.
    pub href: String,
    pub shown: Shown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionPage {
    pub detail: ArtifactVersionDetail,
    pub visualizations: Vec<ShownVisualization>,
}

#[cfg(feature = "ssr")]
/// Reads a CSV text into a header and rows (quoted fields with `""` escapes and commas
/// or line breaks inside), at most `max_rows` rows.
pub fn parse_csv(text: &str, max_rows: usize) -> (Vec<String>, Vec<Vec<String>>, bool) {
    let mut records: Vec<Vec<String>> = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut more = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                other => field.push(other),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                if records.len() > max_rows {
                    more = true;
                    break;
                }
            }
            other => field.push(other),
        }
    }
    if !more && (!field.is_empty() || !record.is_empty()) {
        record.push(field);
        records.push(record);
    }
    if records.len() > max_rows + 1 {
        records.truncate(max_rows + 1);
        more = true;
    }
    let mut records = records.into_iter();
    let header = records.next().unwrap_or_default();
    (header, records.collect(), more)
}

#[cfg(feature = "ssr")]
/// Markdown as HTML that cannot run anything: raw HTML becomes text, links keep only
/// http(s), mailto and relative addresses, images become their alt text.
pub fn safe_markdown(text: &str) -> String {
    use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

    fn safe_url(url: &str) -> bool {
        let lower = url.trim().to_ascii_lowercase();
        match lower.split_once(':') {
            Some((scheme, _)) if !scheme.contains('/') && !scheme.contains('?') => {
                matches!(scheme, "http" | "https" | "mailto")
            }
            _ => true,
        }
    }

    // An image becomes its alt text (the text events between its start and end): the
    // page fetches nothing a report names.
    let events = Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH)
        .filter_map(|event| match event {
            Event::Html(html) | Event::InlineHtml(html) => Some(Event::Text(html)),
            Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) if !safe_url(&dest_url) => Some(Event::Start(Tag::Link {
                link_type,
                dest_url: CowStr::Borrowed("#"),
                title,
                id,
            })),
            other => Some(other),
        });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// Versions per page of an artifact's versions list.
pub const VERSIONS_PER_PAGE: u32 = 50;

/// The versions of one artifact (`pipeline.step.output`), newest first.
#[server(prefix = "/fn", endpoint = "artifact_versions")]
pub async fn get_artifact_versions(
    name: String,
    cursor: Option<String>,
) -> Result<weir_api::pagination::Page<weir_api::runs::ArtifactVersion>, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let query = weir_api::PageQuery {
        limit: Some(VERSIONS_PER_PAGE),
        cursor,
    };
    Ok(weir_domain::runs::artifacts::versions(&pool, &principal, &name, &query).await?)
}

/// One artifact version, with its visualizations ready to show.
#[server(prefix = "/fn", endpoint = "artifact_version")]
pub async fn get_version_page(id: String) -> Result<VersionPage, AppError> {
    use tokio::io::AsyncReadExt;
    use weir_flavors::stores::ArtifactStore;

    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let keyring =
        use_context::<std::sync::Arc<weir_domain::secrets::Keyring>>().ok_or(AppError::Internal)?;
    let id: uuid::Uuid = id.parse().map_err(|_| AppError::NotFound)?;
    let detail = weir_domain::runs::artifacts::version(&pool, &principal, id).await?;
    let mut visualizations = Vec::new();
    // The store is opened once, and only when something is to be read from it.
    let mut store: Option<Result<ArtifactStore, String>> = None;
    for (index, v) in detail.version.visualizations.iter().enumerate() {
        let href = format!("/api/v1/artifact-versions/{id}/visualizations/{index}");
        let shown = if v.kind == VisualizationKind::Png {
            Shown::Image(href.clone())
        } else if v.size > MAX_SHOWN_BYTES {
            Shown::TooLarge(v.size)
        } else {
            if store.is_none() {
                store = Some(
                    match weir_domain::runs::protocol::version_store(
                        &pool, &keyring, &principal, id,
                    )
                    .await
                    {
                        Ok((_, component)) => {
                            ArtifactStore::from_config(&component.flavor, &component.config)
                                .await
                                .map_err(|e| {
                                    tracing::error!(error = %e, "artifact store unreadable");
                                    "its artifact store cannot be opened".to_string()
                                })
                        }
                        Err(e) => Err(AppError::from(e).to_string()),
                    },
                );
            }
            match store.as_ref().expect("BUG: just set") {
                Err(why) => Shown::Unreadable(why.clone()),
                Ok(store) => match store.open_read(&v.uri).await {
                    Err(e) => {
                        tracing::error!(error = %e, uri = %v.uri, "visualization unreadable");
                        Shown::Unreadable("it is missing from the artifact store".into())
                    }
                    Ok(reader) => {
                        let mut bytes = Vec::new();
                        let read = reader
                            .take(MAX_SHOWN_BYTES as u64 + 1)
                            .read_to_end(&mut bytes)
                            .await;
                        match read {
                            Err(_) => Shown::Unreadable("reading it failed".into()),
                            Ok(_) if bytes.len() as i64 > MAX_SHOWN_BYTES => {
                                Shown::TooLarge(bytes.len() as i64)
                            }
                            Ok(_) => {
                                let text = String::from_utf8_lossy(&bytes).into_owned();
                                match v.kind {
                                    VisualizationKind::Json => serde_json::from_str(&text)
                                        .map(Shown::Json)
                                        .unwrap_or(Shown::Text(text)),
                                    VisualizationKind::Csv => {
                                        let (header, rows, more_rows) =
                                            parse_csv(&text, MAX_CSV_ROWS);
                                        Shown::Table {
                                            header,
                                            rows,
                                            more_rows,
                                        }
                                    }
                                    VisualizationKind::Markdown => {
                                        Shown::Markdown(safe_markdown(&text))
                                    }
                                    _ => Shown::Text(text),
                                }
                            }
                        }
                    }
                },
            }
        };
        visualizations.push(ShownVisualization {
            kind: v.kind,
            href,
            shown,
        });
    }
    Ok(VersionPage {
        detail,
        visualizations,
    })
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn csv_with_quotes_commas_and_line_breaks() {
        let (header, rows, more) = parse_csv("a,b\n1,\"x, \"\"y\"\"\"\n2,\"two\nlines\"\n", 10);
        assert_eq!(header, ["a", "b"]);
        assert_eq!(rows, [vec!["1", "x, \"y\""], vec!["2", "two\nlines"]]);
        assert!(!more);
        let (_, rows, more) = parse_csv("h\n1\n2\n3\n", 2);
        assert_eq!(rows.len(), 2);
        assert!(more);
        let (header, rows, _) = parse_csv("", 2);
        assert!(header.is_empty() && rows.is_empty());
    }

    #[test]
    fn markdown_keeps_formatting_and_drops_what_could_run() {
        let html = safe_markdown(
            "# Report\n\n**accuracy** 0.93\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[ok](https://example.org) [bad](javascript:alert(1)) ![pic](https://example.org/p.png)",
        );
        assert!(html.contains("<h1>Report</h1>"), "{html}");
        assert!(html.contains("<strong>accuracy</strong>"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("href=\"https://example.org\""), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("pic"), "{html}");
    }
}
