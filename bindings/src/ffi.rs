//! The C API. CONTRACT (skeleton): see the issue; every export catches panics and checks nulls.
