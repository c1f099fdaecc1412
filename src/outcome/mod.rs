//! What a check came to — its status, the reason, and the repair ledger and waivers of the
//! audit trail. The run produces them and the manifest records them; both import them from
//! here, so neither depends on the other.

pub mod ledger;
mod reason;
mod status;

pub use reason::Reason;
pub use status::Status;
