//! The pod's self-signed certificate: every node serves the same one, as the nodes of a real
//! pod serve the same site. It is its own CA, so clients can verify it with `--ca-file`.

use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::{X509Builder, X509NameBuilder};

/// Writes `server.pem` and `server.key` (ECDSA P-256, `CN=localhost`, SAN `localhost` and
/// `127.0.0.1`, valid from a day ago for 30 days) into `dir`.
pub fn write_self_signed(dir: &Path) -> io::Result<()> {
    write_named(dir, "server", "localhost")
}

/// Writes `<stem>.pem` and `<stem>.key` for the name `cn` (also its only DNS name) into
/// `dir`: a second certificate, to tell which `ssl_multicert.config` line served a client.
pub fn write_named(dir: &Path, stem: &str, cn: &str) -> io::Result<()> {
    let (cert, key) = make(cn).map_err(|e| io::Error::other(format!("certificate: {e}")))?;
    fs::write(dir.join(format!("{stem}.pem")), cert)?;
    fs::write(dir.join(format!("{stem}.key")), key)?;
    Ok(())
}

fn make(cn: &str) -> Result<(Vec<u8>, Vec<u8>), openssl::error::ErrorStack> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(Nid::COMMONNAME, cn)?;
    let name = name.build();

    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(64, openssl::bn::MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(&key)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let start = i64::try_from(now).unwrap_or(0) - 86_400;
    let not_before = Asn1Time::from_unix(start)?;
    let not_after = Asn1Time::days_from_now(30)?;
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    let san = SubjectAlternativeName::new()
        .dns(cn)
        .ip(&IpAddr::V4(Ipv4Addr::LOCALHOST).to_string())
        .build(&b.x509v3_context(None, None))?;
    b.append_extension(san)?;
    b.sign(&key, MessageDigest::sha256())?;
    Ok((b.build().to_pem()?, key.private_key_to_pem_pkcs8()?))
}
