//! Materializers: how a step's output values are written to artifact files and read
//! back by the steps that consume them.
//!
//! Built in: `String` (text), numbers and `bool` (JSON), `Vec<u8>` (raw bytes), and any
//! other serde type (JSON, or MessagePack above 1 MiB; a serde value whose JSON is at
//! most [`PREVIEW_LIMIT`] also gets a JSON preview, shown as a tree by the dashboard).
//! A type of your own with its own
//! file format implements [`Materializer`]; it then wins over serde, so a type can be
//! `Serialize` and still use its own format.

use std::io::{Read, Write};
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What a materializer's `save` and `load` may fail with (any error converts).
pub type MaterializeError = Box<dyn std::error::Error + Send + Sync>;

/// How values of a type are written to an artifact and read back.
///
/// ```
/// use std::io::{Read, Write};
/// use weir::{MaterializeError, Materializer, Visualization};
///
/// /// A confusion matrix, stored as CSV so any tool can read it.
/// struct Confusion(Vec<Vec<u32>>);
///
/// impl Materializer for Confusion {
///     const NAME: &'static str = "confusion-csv";
///
///     fn save(&self, writer: &mut dyn Write) -> Result<(), MaterializeError> {
///         for row in &self.0 {
///             let cells: Vec<String> = row.iter().map(u32::to_string).collect();
///             writeln!(writer, "{}", cells.join(","))?;
///         }
///         Ok(())
///     }
///
///     fn load(reader: &mut dyn Read) -> Result<Self, MaterializeError> {
///         let mut text = String::new();
///         reader.read_to_string(&mut text)?;
///         let rows = text
///             .lines()
///             .map(|line| line.split(',').map(str::parse).collect::<Result<Vec<u32>, _>>())
///             .collect::<Result<_, _>>()?;
///         Ok(Confusion(rows))
///     }
///
///     fn visualizations(&self) -> Vec<Visualization> {
///         let mut csv = Vec::new();
///         let _ = self.save(&mut csv);
///         vec![Visualization::csv(csv)]
///     }
/// }
/// ```
pub trait Materializer: Sized {
    /// Recorded with every artifact version it writes (`confusion-csv`), and checked
    /// when a step reads one.
    const NAME: &'static str;

    fn save(&self, writer: &mut dyn Write) -> Result<(), MaterializeError>;

    fn load(reader: &mut dyn Read) -> Result<Self, MaterializeError>;

    /// Views of the value stored beside the artifact and shown by the dashboard.
    fn visualizations(&self) -> Vec<Visualization> {
        Vec::new()
    }

    /// The value of a pipeline parameter or literal input (JSON); `None` when the type
    /// only comes from artifacts.
    fn from_json(_value: &Value) -> Option<Self> {
        None
    }
}

pub use weir_api::runs::VisualizationKind;

/// A view of an artifact (a table, a chart, a summary) stored beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Visualization {
    pub kind: VisualizationKind,
    pub content: Vec<u8>,
}

impl Visualization {
    /// A JSON document (shown as a tree).
    pub fn json(value: &impl Serialize) -> Self {
        Self {
            kind: VisualizationKind::Json,
            content: serde_json::to_vec_pretty(value).unwrap_or_default(),
        }
    }

    /// CSV text with a header line (shown as a table).
    pub fn csv(text: impl Into<Vec<u8>>) -> Self {
        Self {
            kind: VisualizationKind::Csv,
            content: text.into(),
        }
    }

    /// Markdown (rendered, sanitised).
    pub fn markdown(text: impl Into<String>) -> Self {
        Self {
            kind: VisualizationKind::Markdown,
            content: text.into().into_bytes(),
        }
    }

    /// A PNG image.
    pub fn png(bytes: Vec<u8>) -> Self {
        Self {
            kind: VisualizationKind::Png,
            content: bytes,
        }
    }

    /// Plain text.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            kind: VisualizationKind::Text,
            content: text.into().into_bytes(),
        }
    }
}

/// The materializer name of serde types written as JSON.
pub const JSON: &str = "json";
/// The materializer name of serde types written as MessagePack (values over 1 MiB).
pub const MSGPACK: &str = "msgpack";
/// Serde values whose JSON is larger are written as MessagePack instead.
pub const JSON_LIMIT: usize = 1 << 20;
/// Serde values whose JSON is at most this large get a JSON preview beside the
/// artifact; larger ones would only be a second copy too big to read as a tree.
pub const PREVIEW_LIMIT: usize = 64 << 10;

impl Materializer for String {
    const NAME: &'static str = "text";

    fn save(&self, writer: &mut dyn Write) -> Result<(), MaterializeError> {
        writer.write_all(self.as_bytes())?;
        Ok(())
    }

    fn load(reader: &mut dyn Read) -> Result<Self, MaterializeError> {
        let mut text = String::new();
        reader.read_to_string(&mut text)?;
        Ok(text)
    }

    fn from_json(value: &Value) -> Option<Self> {
        value.as_str().map(str::to_owned)
    }
}

impl Materializer for Vec<u8> {
    const NAME: &'static str = "bytes";

    fn save(&self, writer: &mut dyn Write) -> Result<(), MaterializeError> {
        writer.write_all(self)?;
        Ok(())
    }

    fn load(reader: &mut dyn Read) -> Result<Self, MaterializeError> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

macro_rules! json_scalars {
    ($($t:ty),*) => {$(
        impl Materializer for $t {
            const NAME: &'static str = JSON;

            fn save(&self, writer: &mut dyn Write) -> Result<(), MaterializeError> {
                serde_json::to_writer(writer, self)?;
                Ok(())
            }

            fn load(reader: &mut dyn Read) -> Result<Self, MaterializeError> {
                Ok(serde_json::from_reader(reader)?)
            }

            fn from_json(value: &Value) -> Option<Self> {
                serde_json::from_value(value.clone()).ok()
            }
        }
    )*};
}

json_scalars!(
    bool, i8, i16, i32, i64, u8, u16, u32, u64, usize, isize, f32, f64
);

/// How a value was written.
#[doc(hidden)]
#[derive(Debug)]
pub struct Saved {
    pub materializer: &'static str,
    pub visualizations: Vec<Visualization>,
}

/// Writing and reading values of `T`, whichever way `T` is stored. The `#[step]` macro
/// picks one per type: the type's [`Materializer`], else serde.
#[doc(hidden)]
pub trait Codec<T> {
    fn save(&self, value: &T, writer: &mut dyn Write) -> Result<Saved, MaterializeError>;
    /// Reads a value written by the materializer named `materializer`.
    fn load(&self, materializer: &str, reader: &mut dyn Read) -> Result<T, MaterializeError>;
    fn value_of(&self, value: &Value) -> Result<T, MaterializeError>;
}

/// A type's own [`Materializer`].
#[doc(hidden)]
pub struct MaterializerCodec<T>(PhantomData<fn() -> T>);

impl<T: Materializer> Codec<T> for MaterializerCodec<T> {
    fn save(&self, value: &T, writer: &mut dyn Write) -> Result<Saved, MaterializeError> {
        value.save(writer)?;
        Ok(Saved {
            materializer: T::NAME,
            visualizations: value.visualizations(),
        })
    }

    fn load(&self, materializer: &str, reader: &mut dyn Read) -> Result<T, MaterializeError> {
        if materializer != T::NAME {
            return Err(format!(
                "it was written by materializer `{materializer}`, and `{}` reads `{}`",
                std::any::type_name::<T>(),
                T::NAME
            )
            .into());
        }
        T::load(reader)
    }

    fn value_of(&self, value: &Value) -> Result<T, MaterializeError> {
        T::from_json(value).ok_or_else(|| {
            format!(
                "{value} is not a `{}` (a type with its own materializer comes from artifacts, not values)",
                std::any::type_name::<T>()
            )
            .into()
        })
    }
}

/// Serde: JSON, or MessagePack when the JSON would be larger than [`JSON_LIMIT`].
#[doc(hidden)]
pub struct SerdeCodec<T>(PhantomData<fn() -> T>);

/// A writer that refuses to grow past a limit.
struct Capped {
    bytes: Vec<u8>,
    limit: usize,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > self.limit {
            return Err(std::io::Error::other("over the JSON limit"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<T: Serialize + DeserializeOwned> Codec<T> for SerdeCodec<T> {
    fn save(&self, value: &T, writer: &mut dyn Write) -> Result<Saved, MaterializeError> {
        let mut capped = Capped {
            bytes: Vec::new(),
            limit: JSON_LIMIT,
        };
        match serde_json::to_writer(&mut capped, value) {
            Ok(()) => {
                writer.write_all(&capped.bytes)?;
                let visualizations = if capped.bytes.len() <= PREVIEW_LIMIT {
                    preview(&capped.bytes).into_iter().collect()
                } else {
                    vec![]
                };
                Ok(Saved {
                    materializer: JSON,
                    visualizations,
                })
            }
            Err(e) if e.is_io() => {
                drop(capped);
                let mut writer = writer;
                rmp_serde::encode::write_named(&mut writer, value)?;
                Ok(Saved {
                    materializer: MSGPACK,
                    visualizations: vec![],
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    fn load(&self, materializer: &str, reader: &mut dyn Read) -> Result<T, MaterializeError> {
        match materializer {
            JSON => Ok(serde_json::from_reader(reader)?),
            MSGPACK => Ok(rmp_serde::decode::from_read(reader)?),
            other => Err(format!(
                "it was written by materializer `{other}`; `{}` is read from `json` or `msgpack`",
                std::any::type_name::<T>()
            )
            .into()),
        }
    }

    fn value_of(&self, value: &Value) -> Result<T, MaterializeError> {
        Ok(serde_json::from_value(value.clone())?)
    }
}

/// The JSON preview of a serde value's JSON: indented, and only for documents (an
/// object or an array), since a lone number or string is no clearer as a tree.
fn preview(json: &[u8]) -> Option<Visualization> {
    match serde_json::from_slice::<Value>(json).ok()? {
        value @ (Value::Object(_) | Value::Array(_)) => Some(Visualization::json(&value)),
        _ => None,
    }
}

/// The type whose codec the `#[step]` macro looks up (autoref specialization: a
/// [`Materializer`] of the type wins over serde).
#[doc(hidden)]
pub struct Probe<T>(PhantomData<fn() -> T>);

impl<T> Probe<T> {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

#[doc(hidden)]
pub trait ViaMaterializer<T> {
    fn codec(&self) -> MaterializerCodec<T>;
}

impl<T: Materializer> ViaMaterializer<T> for &Probe<T> {
    fn codec(&self) -> MaterializerCodec<T> {
        MaterializerCodec(PhantomData)
    }
}

#[doc(hidden)]
pub trait ViaSerde<T> {
    fn codec(&self) -> SerdeCodec<T>;
}

impl<T: Serialize + DeserializeOwned> ViaSerde<T> for Probe<T> {
    fn codec(&self) -> SerdeCodec<T> {
        SerdeCodec(PhantomData)
    }
}

#[cfg(test)]
// The extra borrows are the point: they pick the codec as the macro does.
#[allow(clippy::needless_borrow)]
mod tests {
    use super::*;

    #[allow(unused_imports)]
    use super::{ViaMaterializer as _, ViaSerde as _};

    fn round_trip<T, C: Codec<T>>(codec: C, value: &T) -> (T, &'static str, Vec<u8>) {
        let mut bytes = Vec::new();
        let saved = codec.save(value, &mut bytes).expect("save");
        let back = codec
            .load(saved.materializer, &mut bytes.as_slice())
            .expect("load");
        (back, saved.materializer, bytes)
    }

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Report {
        accuracy: f64,
        classes: Vec<String>,
    }

    /// Serialize too, but its own format wins.
    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Upper(String);

    impl Materializer for Upper {
        const NAME: &'static str = "upper";
        fn save(&self, writer: &mut dyn Write) -> Result<(), MaterializeError> {
            writer.write_all(self.0.to_uppercase().as_bytes())?;
            Ok(())
        }
        fn load(reader: &mut dyn Read) -> Result<Self, MaterializeError> {
            let mut text = String::new();
            reader.read_to_string(&mut text)?;
            Ok(Upper(text.to_lowercase()))
        }
        fn visualizations(&self) -> Vec<Visualization> {
            vec![Visualization::markdown(format!("# {}", self.0))]
        }
    }

    #[test]
    fn built_in_types_use_their_own_materializers() {
        let (text, name, bytes) =
            round_trip((&&Probe::<String>::new()).codec(), &"héllo".to_string());
        assert_eq!(
            (text.as_str(), name, bytes.as_slice()),
            ("héllo", "text", "héllo".as_bytes())
        );
        let (n, name, bytes) = round_trip((&&Probe::<f64>::new()).codec(), &0.93);
        assert_eq!(
            (n, name, bytes.as_slice()),
            (0.93, "json", b"0.93".as_slice())
        );
        let (b, _, _) = round_trip((&&Probe::<bool>::new()).codec(), &true);
        assert!(b);
        let (raw, name, bytes) = round_trip((&&Probe::<Vec<u8>>::new()).codec(), &vec![0u8, 255]);
        assert_eq!((raw, name, bytes), (vec![0, 255], "bytes", vec![0, 255]));
        let parsed = (&&Probe::<u32>::new())
            .codec()
            .value_of(&Value::from(7))
            .expect("a parameter");
        assert_eq!(parsed, 7);
    }

    #[test]
    fn serde_types_are_json_and_large_ones_message_pack() {
        let report = Report {
            accuracy: 0.9,
            classes: vec!["setosa".into()],
        };
        let (back, name, bytes) = round_trip((&&Probe::<Report>::new()).codec(), &report);
        assert_eq!(back, report);
        assert_eq!(name, JSON);
        assert!(bytes.starts_with(b"{\"accuracy\""));
        // A small value carries its indented JSON as a preview; the artifact stays compact.
        let saved = (&&Probe::<Report>::new())
            .codec()
            .save(&report, &mut Vec::new())
            .expect("save");
        assert_eq!(saved.visualizations.len(), 1);
        assert_eq!(saved.visualizations[0].kind, VisualizationKind::Json);
        let shown = String::from_utf8(saved.visualizations[0].content.clone()).expect("UTF-8");
        assert!(shown.contains("\n  \"accuracy\": 0.9"), "{shown}");
        // A value too large to read as a tree, or a lone scalar, has none.
        let medium: Vec<u32> = (0..20_000).collect();
        let saved = (&&Probe::<Vec<u32>>::new())
            .codec()
            .save(&medium, &mut Vec::new())
            .expect("save");
        assert_eq!(saved.materializer, JSON);
        assert!(saved.visualizations.is_empty());
        let saved = (&&Probe::<Option<String>>::new())
            .codec()
            .save(&Some("x".to_string()), &mut Vec::new())
            .expect("save");
        assert!(saved.visualizations.is_empty());
        let big: Vec<f64> = (0..200_000).map(|i| i as f64 / 7.0).collect();
        let (back, name, bytes) = round_trip((&&Probe::<Vec<f64>>::new()).codec(), &big);
        assert_eq!(name, MSGPACK);
        assert_eq!(back, big);
        assert!(bytes.len() < 2_000_000, "{} bytes", bytes.len());
    }

    #[test]
    fn a_type_of_its_own_wins_over_serde_and_checks_what_it_reads() {
        let codec = (&&Probe::<Upper>::new()).codec();
        let mut bytes = Vec::new();
        let saved = codec.save(&Upper("iris".into()), &mut bytes).expect("save");
        assert_eq!(saved.materializer, "upper");
        assert_eq!(bytes, b"IRIS");
        assert_eq!(saved.visualizations[0].kind, VisualizationKind::Markdown);
        let wrong = codec
            .load("json", &mut bytes.as_slice())
            .expect_err("another materializer");
        assert!(wrong.to_string().contains("materializer `json`"), "{wrong}");
        assert!(codec.value_of(&Value::from("x")).is_err());
    }
}
