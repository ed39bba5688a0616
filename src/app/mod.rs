//! The program: the command line, and the background tasks that run beside the server.

pub(crate) mod change_feed;
pub mod cli;
pub mod demo;
pub mod server;
pub(crate) mod stream_writer;
pub(crate) mod webhook_worker;
