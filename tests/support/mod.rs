//! Real servers for tests, started on 127.0.0.1 and stopped on drop: an HTTPS (or plain
//! HTTP) server with a throw-away CA, and a `dnsmasq` serving a small `lab.test` zone.
//! Each test crate uses only some of it.

#![allow(dead_code, unreachable_pub)]

pub mod cloud;
pub mod demo;
pub mod dnsmasq;
pub mod https;
pub mod manifest;
pub mod netlab;
pub mod pve;
