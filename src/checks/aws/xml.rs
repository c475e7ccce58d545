//! Reading the XML answers of the Query API calls (EC2 `DescribeInstances`, RDS
//! `DescribeDBInstances`, ELBv2 `DescribeTargetHealth`, error answers): one small walker over
//! quick-xml events that reports each closing element with its path, and one reader per answer
//! that picks the leaves it needs. Namespaces are ignored (local names), depth is bounded.

use std::collections::BTreeMap;

use quick_xml::events::Event;

use super::facts::{Instance, TargetHealth};

/// One `DescribeInstances` page.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Page {
    /// The instances of every reservation of the page.
    pub instances: Vec<Instance>,
    /// The token of the next page, if any.
    pub next_token: Option<String>,
}

/// Walk an XML document, calling `on_end(path, text)` at every closing element with the local
/// names from the root and the element's own text.
fn walk_xml(xml: &str, mut on_end: impl FnMut(&[String], &str)) -> Result<(), String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                if stack.len() > 64 {
                    return Err("XML nested too deeply".to_owned());
                }
                stack.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                text.clear();
            }
            Ok(Event::Empty(e)) => {
                stack.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                on_end(&stack, "");
                stack.pop();
                text.clear();
            }
            Ok(Event::Text(t)) => {
                text.push_str(&t.decode().map_err(|e| e.to_string())?);
            }
            Ok(Event::CData(t)) => {
                text.push_str(&t.decode().map_err(|e| e.to_string())?);
            }
            Ok(Event::GeneralRef(r)) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else {
                    match r.decode().map_err(|e| e.to_string())?.as_ref() {
                        "lt" => text.push('<'),
                        "gt" => text.push('>'),
                        "amp" => text.push('&'),
                        "quot" => text.push('"'),
                        "apos" => text.push('\''),
                        _ => {}
                    }
                }
            }
            Ok(Event::End(_)) => {
                on_end(&stack, text.trim());
                stack.pop();
                text.clear();
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(format!(
                    "invalid XML at byte {}: {e}",
                    reader.buffer_position()
                ));
            }
        }
    }
    Ok(())
}

/// Parse a `DescribeInstancesResponse`.
pub(crate) fn parse_describe(xml: &str) -> Result<Page, String> {
    let mut page = Page::default();
    let mut current = Instance::default();
    let mut root_seen = false;
    walk_xml(xml, |path, text| match path {
        [root] => root_seen = root == "DescribeInstancesResponse",
        [_, t] if t == "nextToken" => page.next_token = Some(text.to_owned()),
        [_, rs, _, set, _, id]
            if rs == "reservationSet" && set == "instancesSet" && id == "instanceId" =>
        {
            current.id = text.to_owned();
        }
        [_, rs, _, set, _, st, name]
            if rs == "reservationSet"
                && set == "instancesSet"
                && st == "instanceState"
                && name == "name" =>
        {
            current.state = text.to_owned();
        }
        [_, rs, _, set, item]
            if rs == "reservationSet" && set == "instancesSet" && item == "item" =>
        {
            page.instances.push(std::mem::take(&mut current));
        }
        _ => {}
    })?;
    if !root_seen {
        return Err("not a DescribeInstancesResponse".to_owned());
    }
    Ok(page)
}

/// The fields of the first `DBInstance` of a `DescribeDBInstancesResponse`, or `None`.
pub(crate) fn parse_rds(xml: &str) -> Result<Option<BTreeMap<String, String>>, String> {
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut count = 0usize;
    let mut root_seen = false;
    walk_xml(xml, |path, text| match path {
        [root] => root_seen = root == "DescribeDBInstancesResponse",
        [_, result, list, db, leaf]
            if result == "DescribeDBInstancesResult"
                && list == "DBInstances"
                && db == "DBInstance"
                && count == 0 =>
        {
            fields.insert(leaf.clone(), text.to_owned());
        }
        [_, result, list, db]
            if result == "DescribeDBInstancesResult"
                && list == "DBInstances"
                && db == "DBInstance" =>
        {
            count += 1;
        }
        _ => {}
    })?;
    if !root_seen {
        return Err("not a DescribeDBInstancesResponse".to_owned());
    }
    Ok((count > 0).then_some(fields))
}

/// Parse a `DescribeTargetHealthResponse`.
pub(crate) fn parse_target_health(xml: &str) -> Result<Vec<TargetHealth>, String> {
    let mut out = Vec::new();
    let mut current = TargetHealth::default();
    let mut root_seen = false;
    walk_xml(xml, |path, text| match path {
        [root] => root_seen = root == "DescribeTargetHealthResponse",
        [_, _, list, member, group, leaf]
            if list == "TargetHealthDescriptions" && member == "member" =>
        {
            match (group.as_str(), leaf.as_str()) {
                ("Target", "Id") => current.id = text.to_owned(),
                ("Target", "Port") => current.port = text.to_owned(),
                ("TargetHealth", "State") => current.state = text.to_owned(),
                ("TargetHealth", "Reason") => current.reason = text.to_owned(),
                _ => {}
            }
        }
        [_, _, list, member] if list == "TargetHealthDescriptions" && member == "member" => {
            out.push(std::mem::take(&mut current));
        }
        _ => {}
    })?;
    if !root_seen {
        return Err("not a DescribeTargetHealthResponse".to_owned());
    }
    Ok(out)
}

/// The first `<Error><Code>` and `<Message>` of a Query API (EC2, RDS, ELBv2) error response.
pub(crate) fn parse_query_error(xml: &str) -> Option<(String, String)> {
    let mut code: Option<String> = None;
    let mut message: Option<String> = None;
    walk_xml(xml, |path, text| {
        if let [.., e, leaf] = path
            && e == "Error"
        {
            if leaf == "Code" && code.is_none() {
                code = Some(text.to_owned());
            } else if leaf == "Message" && message.is_none() {
                message = Some(text.to_owned());
            }
        }
    })
    .ok()?;
    code.map(|c| (c, message.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DESCRIBE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r</requestId>
  <reservationSet>
    <item>
      <reservationId>r-1</reservationId>
      <instancesSet>
        <item>
          <instanceId>i-00000001</instanceId>
          <instanceState><code>16</code><name>running</name></instanceState>
          <tagSet><item><key>Name</key><value>web</value></item></tagSet>
          <groupSet><item><groupId>sg-1</groupId></item></groupSet>
        </item>
        <item>
          <instanceId>i-00000002</instanceId>
          <instanceState><code>80</code><name>stopped</name></instanceState>
          <stateReason><code>x</code><message>a &amp; b</message></stateReason>
        </item>
      </instancesSet>
    </item>
  </reservationSet>
  <nextToken>abc</nextToken>
</DescribeInstancesResponse>"#;

    #[test]
    fn parses_describe_instances() {
        let page = parse_describe(DESCRIBE).unwrap();
        assert_eq!(
            page.instances,
            vec![
                Instance {
                    id: "i-00000001".into(),
                    state: "running".into()
                },
                Instance {
                    id: "i-00000002".into(),
                    state: "stopped".into()
                },
            ]
        );
        assert_eq!(page.next_token.as_deref(), Some("abc"));
        assert!(parse_describe("<Other/>").is_err());
        assert!(parse_describe("<a><b></a>").is_err());
        assert!(parse_describe("").is_err());
    }

    #[test]
    fn walks_paths_text_and_references() {
        let mut seen = Vec::new();
        walk_xml(
            "<a xmlns=\"urn:x\"><b>x &lt;&#65;&gt; <![CDATA[&]]></b><c/></a>",
            |path, text| seen.push((path.join("/"), text.to_owned())),
        )
        .unwrap();
        assert_eq!(
            seen,
            vec![
                ("a/b".to_owned(), "x <A> &".to_owned()),
                ("a/c".to_owned(), String::new()),
                ("a".to_owned(), String::new()),
            ]
        );
        let deep = "<a>".repeat(70) + &"</a>".repeat(70);
        assert_eq!(
            walk_xml(&deep, |_, _| {}),
            Err("XML nested too deeply".to_owned())
        );
        assert!(
            walk_xml("<a></b>", |_, _| {})
                .unwrap_err()
                .starts_with("invalid XML at byte")
        );
    }

    #[test]
    fn parses_errors() {
        let xml = r#"<?xml version="1.0"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized &lt;x&gt;</Message></Error></Errors><RequestID>1</RequestID></Response>"#;
        assert_eq!(
            parse_query_error(xml),
            Some((
                "UnauthorizedOperation".into(),
                "You are not authorized <x>".into()
            ))
        );
        assert_eq!(parse_query_error("not xml <"), None);
        assert_eq!(parse_query_error("<Response/>"), None);
    }

    #[test]
    fn parses_rds() {
        let xml = r#"<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <DescribeDBInstancesResult><DBInstances><DBInstance>
    <DBInstanceIdentifier>orders</DBInstanceIdentifier><DBInstanceStatus>stopped</DBInstanceStatus>
    <Engine>postgres</Engine><MultiAZ>false</MultiAZ>
    <VpcSecurityGroups><VpcSecurityGroupMembership><Status>active</Status></VpcSecurityGroupMembership></VpcSecurityGroups>
  </DBInstance></DBInstances></DescribeDBInstancesResult>
</DescribeDBInstancesResponse>"#;
        let db = parse_rds(xml).unwrap().unwrap();
        assert_eq!(db["DBInstanceStatus"], "stopped");
        assert_eq!(db["Engine"], "postgres");
        // Nested leaves (a security group's status) are not the instance's.
        assert!(!db.contains_key("Status"));
        let empty = "<DescribeDBInstancesResponse><DescribeDBInstancesResult><DBInstances/></DescribeDBInstancesResult></DescribeDBInstancesResponse>";
        assert_eq!(parse_rds(empty).unwrap(), None);
        assert!(parse_rds("<Other/>").is_err());
    }

    #[test]
    fn parses_target_health() {
        let xml = r#"<DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <DescribeTargetHealthResult><TargetHealthDescriptions>
    <member><Target><Id>i-1</Id><Port>80</Port></Target><TargetHealth><State>healthy</State></TargetHealth></member>
    <member><Target><Id>i-2</Id><Port>80</Port></Target><HealthCheckPort>80</HealthCheckPort>
      <TargetHealth><State>unhealthy</State><Reason>Target.Timeout</Reason></TargetHealth></member>
  </TargetHealthDescriptions></DescribeTargetHealthResult>
</DescribeTargetHealthResponse>"#;
        let t = parse_target_health(xml).unwrap();
        assert_eq!(
            t,
            vec![
                TargetHealth {
                    id: "i-1".into(),
                    port: "80".into(),
                    state: "healthy".into(),
                    reason: String::new(),
                },
                TargetHealth {
                    id: "i-2".into(),
                    port: "80".into(),
                    state: "unhealthy".into(),
                    reason: "Target.Timeout".into(),
                },
            ]
        );
        assert!(parse_target_health("<DescribeInstancesResponse/>").is_err());
    }
}
