//! JSON Schemas of configuration structs, in the form Weir's validator and forms read.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

/// The schema of `T`, with nested structs inlined (no `$ref`) and no `$schema` line.
pub fn schema_for<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(map) = schema.as_object_mut() {
        map.remove("$schema");
    }
    schema
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use weir_api::config_schema::{self, Kind};
    use weir_api::stacks::ComponentType;

    use crate::builtin_flavors;

    #[test]
    fn every_builtin_schema_is_one_the_forms_understand() {
        let flavors = builtin_flavors();
        for flavor in &flavors {
            let fields = config_schema::parse(&flavor.config_schema).unwrap_or_else(|e| {
                panic!(
                    "{}/{}: {e:?}\n{:#}",
                    flavor.component_type, flavor.name, flavor.config_schema
                )
            });
            assert!(!fields.is_empty(), "{}", flavor.name);
            for field in &fields {
                assert!(
                    !field.description.is_empty(),
                    "{}.{} is described",
                    flavor.name,
                    field.name
                );
            }
        }
        let required = [
            (ComponentType::Orchestrator, "local"),
            (ComponentType::Orchestrator, "slurm"),
            (ComponentType::Orchestrator, "kubernetes"),
            (ComponentType::ArtifactStore, "local"),
            (ComponentType::ArtifactStore, "s3"),
            (ComponentType::ContainerRegistry, "default"),
            (ComponentType::ExperimentTracker, "mlflow"),
            (ComponentType::Alerter, "webhook"),
            (ComponentType::StepOperator, "slurm"),
        ];
        for (t, name) in required {
            assert!(
                flavors
                    .iter()
                    .any(|f| f.component_type == t && f.name == name),
                "{t}/{name}"
            );
        }
    }

    #[test]
    fn the_s3_schema_marks_credentials_sensitive_and_keeps_defaults() {
        let s3 = builtin_flavors()
            .into_iter()
            .find(|f| f.name == "s3")
            .expect("s3");
        let fields = config_schema::parse(&s3.config_schema).expect("valid");
        let field = |n: &str| fields.iter().find(|f| f.name == n).expect(n);
        assert!(field("access_key_id").sensitive && field("secret_access_key").sensitive);
        assert!(field("bucket").required && !field("region").required);
        assert_eq!(field("region").default, Some(json!("us-east-1")));
        assert_eq!(field("force_path_style").kind, Kind::Boolean);
        let checked = config_schema::check(
            &fields,
            &json!({"bucket": "models", "access_key_id": "{{aws.id}}",
                    "secret_access_key": "AKIA-plaintext"}),
            "config",
        );
        assert_eq!(checked.problems.len(), 1);
        assert_eq!(checked.problems[0].field, "config.secret_access_key");
    }

    #[test]
    fn nested_objects_arrays_and_enums_come_through() {
        let webhook = builtin_flavors()
            .into_iter()
            .find(|f| f.name == "webhook")
            .expect("webhook");
        let fields = config_schema::parse(&webhook.config_schema).expect("valid");
        let field = |n: &str| fields.iter().find(|f| f.name == n).expect(n);
        assert_eq!(
            field("method").kind,
            Kind::Enum(vec!["POST".into(), "PUT".into()])
        );
        assert!(
            matches!(&field("notify_on").kind, Kind::Array(item) if matches!(**item, Kind::Enum(_)))
        );
        assert!(matches!(&field("retry").kind, Kind::Object(inner) if inner.len() == 2));
    }
}
