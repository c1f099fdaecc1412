//! The committed schemas are exactly what the code generates: editors never see a stale one.

mod common;

use labcert::documents::text;
use labcert::schema::Kind;

#[test]
fn committed_schemas_are_fresh() {
    for (kind, file) in [
        (Kind::Catalog, "schemas/catalog.schema.json"),
        (Kind::Topology, "schemas/topology.schema.json"),
        (Kind::Manifest, "schemas/manifest.schema.json"),
        (Kind::Qualification, "schemas/qualification.schema.json"),
    ] {
        let committed = std::fs::read_to_string(common::root().join(file)).unwrap_or_default();
        assert!(
            committed == text(kind),
            "{file} is stale: regenerate with `cargo run -- schema {} > {file}`",
            kind.name()
        );
    }
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let out = common::labcert(&["schema", "catalog"]);
    assert_eq!(out.code, 0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("schema is JSON");
    assert_eq!(v["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert!(
        v["$defs"]["Check"]["properties"]["needs"].is_object(),
        "documents `needs`"
    );
}
