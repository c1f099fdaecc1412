//! Reading manifests in tests: schema validation and finding a check.

use serde_json::Value;

/// Fails the test with every schema violation of `m`.
pub fn assert_valid(m: &Value) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/manifest.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let v = jsonschema::draft202012::new(&schema).expect("the manifest schema compiles");
    let errors: Vec<String> = v.iter_errors(m).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "manifest breaks its schema: {errors:#?}\n{m:#}"
    );
}

/// The manifest entry of check `id` (`catalog.group.check`).
pub fn check<'a>(m: &'a Value, id: &str) -> &'a Value {
    m["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["checks"].as_array().into_iter().flatten())
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in the manifest:\n{m:#}"))
}
