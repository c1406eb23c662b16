//! Local stand-ins for the third parties, speaking their real HTTP APIs:
//! Cloudinary's Upload API and SendGrid's v3 Mail Send.

pub mod cloudinary;
pub mod sendgrid;
mod wire;

pub(crate) use wire::read_request;
