//! Black-box tests of voucherd over real HTTP on loopback: the JTL face, the admin API and the
//! operations endpoints, each on SQLite and on PostgreSQL (when `VOUCHERD_TEST_DATABASE_URL`
//! is set; CI sets it). Time moves by the server's manual clock, never by sleeping.

#![allow(dead_code)]

#[macro_use]
mod support;
mod admin_ops;
mod binary;
mod bleepay_flow;
mod browser;
mod console;
mod crash;
mod edge;
mod events;
mod front_flow;
mod front_page;
mod jtl_errors;
mod jtl_flow;
mod limits;
mod operators;
mod outage;
mod pay_page;
mod pay_several;
mod tls;
mod webhooks;
