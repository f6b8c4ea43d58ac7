//! Pipeline parameter types: the JSON Schema each Rust type stands for, which becomes
//! the snapshot's parameter schema (and the dashboard's Run form).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// A type a pipeline parameter can have: numbers, strings, booleans, lists and options
/// of those.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a pipeline parameter",
    note = "pipeline parameters are numbers, `String`, `bool`, `Vec<…>` or `Option<…>` of those"
)]
pub trait ParamType: Serialize + DeserializeOwned {
    /// The JSON Schema of the type (without a default).
    fn schema() -> Value;
}

macro_rules! integer_params {
    ($($t:ty),*) => {$(
        impl ParamType for $t {
            fn schema() -> Value {
                json!({"type": "integer", "minimum": <$t>::MIN as f64, "maximum": <$t>::MAX as f64})
            }
        }
    )*};
}

integer_params!(i8, i16, i32, u8, u16, u32);

// 64-bit integers: bounds past 2^53 do not survive as JSON numbers; only the sign is
// checked.
impl ParamType for i64 {
    fn schema() -> Value {
        json!({"type": "integer"})
    }
}

impl ParamType for u64 {
    fn schema() -> Value {
        json!({"type": "integer", "minimum": 0})
    }
}

impl ParamType for usize {
    fn schema() -> Value {
        json!({"type": "integer", "minimum": 0})
    }
}

impl ParamType for f32 {
    fn schema() -> Value {
        json!({"type": "number"})
    }
}

impl ParamType for f64 {
    fn schema() -> Value {
        json!({"type": "number"})
    }
}

impl ParamType for bool {
    fn schema() -> Value {
        json!({"type": "boolean"})
    }
}

impl ParamType for String {
    fn schema() -> Value {
        json!({"type": "string"})
    }
}

impl<T: ParamType> ParamType for Vec<T> {
    fn schema() -> Value {
        json!({"type": "array", "items": T::schema()})
    }
}

impl<T: ParamType> ParamType for Option<T> {
    fn schema() -> Value {
        let mut schema = T::schema();
        if let Some(kind) = schema
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_owned)
        {
            schema["type"] = json!([kind, "null"]);
        }
        schema
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_api::config_schema;

    #[test]
    fn every_parameter_type_is_a_schema_the_forms_can_draw() {
        let schema = json!({
            "type": "object",
            "properties": {
                "rate": f64::schema(),
                "epochs": u32::schema(),
                "seed": u64::schema(),
                "offset": i64::schema(),
                "name": String::schema(),
                "shuffle": bool::schema(),
                "layers": Vec::<u16>::schema(),
                "note": Option::<String>::schema(),
            },
            "additionalProperties": false,
        });
        let fields = config_schema::parse(&schema).expect("the forms' subset");
        assert_eq!(fields.len(), 8);
        let epochs = fields.iter().find(|f| f.name == "epochs").expect("epochs");
        assert_eq!(epochs.maximum, Some(u32::MAX as f64));
        assert!(
            fields
                .iter()
                .find(|f| f.name == "note")
                .expect("note")
                .nullable
        );
    }
}
