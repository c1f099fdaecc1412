//! The scheduler and the attempt loop against a scripted prober: readiness order, blocked
//! propagation, retry and poll, concurrency limits, fail-fast and cancellation. No servers,
//! no network; every test runs on one thread in well under a second.

mod fake;
mod lab;

mod attempts;
mod blocked;
mod cancel;
mod fail_fast;
mod limits;
mod order;
