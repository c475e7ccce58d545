//! The canonical text of record values: an `expected` value as written in the config and an
//! answer record as received are both brought to the same form, so they compare as strings.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_resolver::proto::rr::{Name, RData, RecordType};

/// Normalise a lower-case name: no trailing dot (the root stays `.`).
pub(super) fn norm_name(s: &str) -> String {
    let s = s.trim().to_ascii_lowercase();
    if s == "." {
        return s;
    }
    if let Some(x) = s.strip_suffix('.') {
        return x.to_owned();
    }
    s
}

pub(super) fn display_name(n: &Name) -> String {
    norm_name(&n.to_ascii())
}

fn num<T: std::str::FromStr>(s: Option<&str>, what: &str) -> Result<T, String> {
    s.and_then(|x| x.parse::<T>().ok())
        .ok_or_else(|| format!("expected a number for {what}"))
}

/// The canonical text of an expected value, the same form [`render`] gives an answer record.
pub(super) fn normalize_expected(rtype: RecordType, v: &str) -> Result<String, String> {
    let mut parts = v.split_whitespace();
    let out = match rtype {
        RecordType::A => v
            .trim()
            .parse::<Ipv4Addr>()
            .map(|ip| ip.to_string())
            .map_err(|_| "expected an IPv4 address".to_owned())?,
        RecordType::AAAA => v
            .trim()
            .parse::<Ipv6Addr>()
            .map(|ip| ip.to_string())
            .map_err(|_| "expected an IPv6 address".to_owned())?,
        RecordType::CNAME | RecordType::NS => {
            let name = parts.next().ok_or("expected a host name")?;
            if parts.next().is_some() {
                return Err("expected one host name".to_owned());
            }
            norm_name(name)
        }
        RecordType::MX => {
            let pref: u16 = num(parts.next(), "the preference")
                .map_err(|_| "expected `<preference> <host>`, e.g. `10 mail.example.com`")?;
            let host = parts
                .next()
                .ok_or("expected `<preference> <host>`, e.g. `10 mail.example.com`")?;
            format!("{pref} {}", norm_name(host))
        }
        RecordType::SRV => {
            let prio: u16 = num(parts.next(), "the priority")?;
            let weight: u16 = num(parts.next(), "the weight")?;
            let port: u16 = num(parts.next(), "the port")?;
            let host = parts
                .next()
                .ok_or("expected `<priority> <weight> <port> <target>`")?;
            format!("{prio} {weight} {port} {}", norm_name(host))
        }
        RecordType::SOA => {
            let mname = parts.next().ok_or(SOA_HINT)?;
            let rname = parts.next().ok_or(SOA_HINT)?;
            let mut nums = Vec::new();
            for what in ["serial", "refresh", "retry", "expire", "minimum"] {
                nums.push(num::<u32>(parts.next(), what)?.to_string());
            }
            format!(
                "{} {} {}",
                norm_name(mname),
                norm_name(rname),
                nums.join(" ")
            )
        }
        RecordType::CAA => {
            let flags: u8 = num(parts.next(), "the flags")?;
            let tag = parts.next().ok_or("expected `<flags> <tag> <value>`")?;
            let value: Vec<&str> = parts.collect();
            caa_text(flags, tag, &value.join(" "))
        }
        _ => v.to_owned(),
    };
    if matches!(rtype, RecordType::MX | RecordType::SRV | RecordType::SOA) && parts_left(v, rtype) {
        return Err("too many fields".to_owned());
    }
    Ok(out)
}

const SOA_HINT: &str = "expected `<mname> <rname> <serial> <refresh> <retry> <expire> <minimum>`";

fn parts_left(v: &str, rtype: RecordType) -> bool {
    let want = match rtype {
        RecordType::MX => 2,
        RecordType::SRV => 4,
        RecordType::SOA => 7,
        _ => return false,
    };
    v.split_whitespace().count() > want
}

fn caa_text(flags: u8, tag: &str, value: &str) -> String {
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(value);
    format!("{flags} {} {value}", tag.to_ascii_lowercase())
}

/// The canonical text of one answer record.
pub(super) fn render(data: &RData) -> Option<String> {
    Some(match data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(a) => a.0.to_string(),
        RData::CNAME(c) => display_name(&c.0),
        RData::NS(n) => display_name(&n.0),
        RData::MX(mx) => format!("{} {}", mx.preference(), display_name(mx.exchange())),
        RData::TXT(t) => t
            .txt_data()
            .iter()
            .map(|b| String::from_utf8_lossy(b))
            .collect(),
        RData::SOA(s) => format!(
            "{} {} {} {} {} {} {}",
            display_name(s.mname()),
            display_name(s.rname()),
            s.serial(),
            s.refresh(),
            s.retry(),
            s.expire(),
            s.minimum()
        ),
        RData::SRV(s) => format!(
            "{} {} {} {}",
            s.priority(),
            s.weight(),
            s.port(),
            display_name(s.target())
        ),
        RData::CAA(c) => {
            // Display is `flags tag "value"`; take the tag and value back apart.
            let text = c.to_string();
            let mut it = text.splitn(3, ' ');
            let _flags = it.next();
            let tag = it.next().unwrap_or_default();
            caa_text(c.flags(), tag, it.next().unwrap_or_default())
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_values_are_normalised() {
        assert_eq!(
            normalize_expected(RecordType::MX, "10 Mail.Example.com.").as_deref(),
            Ok("10 mail.example.com")
        );
        assert_eq!(
            normalize_expected(RecordType::AAAA, "2001:db8:0:0::1").as_deref(),
            Ok("2001:db8::1")
        );
        assert_eq!(
            normalize_expected(RecordType::CAA, "0 ISSUE \"letsencrypt.org\"").as_deref(),
            Ok("0 issue letsencrypt.org")
        );
        assert_eq!(
            normalize_expected(RecordType::SRV, "0 5 5060 sip.example.com").as_deref(),
            Ok("0 5 5060 sip.example.com")
        );
        assert!(normalize_expected(RecordType::A, "not-an-ip").is_err());
        assert!(normalize_expected(RecordType::MX, "mail.example.com").is_err());
        assert!(normalize_expected(RecordType::MX, "10 a b").is_err());
        assert_eq!(norm_name("."), ".");
    }
}
