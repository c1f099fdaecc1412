//! Every document with a published schema, by kind: what `labcert schema KIND` prints and
//! `schemas/` holds. The types live where they are made (catalog language, manifest,
//! qualification); this is the one place that names them all.

use crate::schema::{self, Kind};

/// The schema of `kind` as pretty JSON text with a trailing newline.
pub fn text(kind: Kind) -> String {
    let v = match kind {
        Kind::Catalog => schema::generate::<crate::model::Catalog>(),
        Kind::Topology => schema::generate::<crate::model::Topology>(),
        Kind::Manifest => schema::generate::<crate::manifest::Manifest>(),
        Kind::Qualification => schema::generate::<crate::gate::qualify::Qualification>(),
    };
    schema::text(&v)
}
