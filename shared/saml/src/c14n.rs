//! Canonical XML of an element's subtree: Canonical XML 1.0 (inclusive) and Exclusive
//! XML Canonicalization 1.0, with or without comments, leaving out one node (the
//! enveloped signature).
//!
//! The two differ only in namespace declarations. The inclusive form writes every
//! namespace in scope at the top element and, below it, each one that changed. The
//! exclusive form writes a namespace only where an element or attribute name uses its
//! prefix and the nearest written ancestor did not already bind it that way; prefixes
//! in the `InclusiveNamespaces` list are treated as the inclusive form treats them.

use std::collections::BTreeMap;

use crate::xml::{Document, Kind, NodeId, XML_NS, declare};

pub const C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
pub const C14N_WITH_COMMENTS: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
pub const C14N_11: &str = "http://www.w3.org/2006/12/xml-c14n11";
pub const C14N_11_WITH_COMMENTS: &str = "http://www.w3.org/2006/12/xml-c14n11#WithComments";
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const EXC_C14N_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// Canonical XML 1.0, or 1.1 (`v11`), which differs in which `xml:` attributes a
    /// subset inherits.
    Inclusive { v11: bool },
    /// Exclusive, with the prefixes (`#default` for the default namespace) its
    /// `InclusiveNamespaces PrefixList` names.
    Exclusive { inclusive_prefixes: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonicalization {
    pub method: Method,
    pub comments: bool,
}

impl Canonicalization {
    /// The algorithm an `Algorithm` URI names, if it is one of the four.
    #[must_use]
    pub fn from_uri(uri: &str, prefix_list: Option<&str>) -> Option<Self> {
        let exclusive = || Method::Exclusive {
            inclusive_prefixes: prefix_list
                .unwrap_or_default()
                .split_ascii_whitespace()
                .map(str::to_owned)
                .collect(),
        };
        let (method, comments) = match uri {
            C14N => (Method::Inclusive { v11: false }, false),
            C14N_WITH_COMMENTS => (Method::Inclusive { v11: false }, true),
            C14N_11 => (Method::Inclusive { v11: true }, false),
            C14N_11_WITH_COMMENTS => (Method::Inclusive { v11: true }, true),
            EXC_C14N => (exclusive(), false),
            EXC_C14N_WITH_COMMENTS => (exclusive(), true),
            _ => return None,
        };
        Some(Self { method, comments })
    }

    /// The canonical form of the subtree at `apex`, without the subtree at `omit`.
    #[must_use]
    pub fn apply(&self, doc: &Document, apex: NodeId, omit: Option<NodeId>) -> Vec<u8> {
        let mut out = String::new();
        let parent_scope = doc
            .node(apex)
            .parent
            .map(|p| doc.in_scope(p))
            .unwrap_or_default();
        let writer = Writer {
            doc,
            how: self,
            omit,
        };
        writer.node(apex, &parent_scope, &BTreeMap::new(), &mut out, true);
        out.into_bytes()
    }
}

struct Writer<'a> {
    doc: &'a Document,
    how: &'a Canonicalization,
    omit: Option<NodeId>,
}

impl Writer<'_> {
    /// Writes `id`. `scope` holds the namespaces in scope at its parent, `written` the
    /// bindings its nearest written ancestors declared (the default namespace absent
    /// meaning empty).
    fn node(
        &self,
        id: NodeId,
        scope: &BTreeMap<String, String>,
        written: &BTreeMap<String, String>,
        out: &mut String,
        apex: bool,
    ) {
        if Some(id) == self.omit {
            return;
        }
        let element = match &self.doc.node(id).kind {
            Kind::Element(e) => e,
            Kind::Text(text) => return escape_text(text, out),
            Kind::Comment(text) => {
                if self.how.comments {
                    out.push_str("<!--");
                    out.push_str(text);
                    out.push_str("-->");
                }
                return;
            }
            Kind::Instruction { target, data } => {
                out.push_str("<?");
                out.push_str(target);
                if !data.is_empty() {
                    out.push(' ');
                    out.push_str(data);
                }
                out.push_str("?>");
                return;
            }
        };
        let mut scope = scope.clone();
        declare(&mut scope, &element.declarations);

        // Which prefixes this element declares in the output.
        let candidates: Vec<String> = match &self.how.method {
            Method::Inclusive { .. } => {
                let mut all: Vec<String> = scope.keys().cloned().collect();
                all.push(String::new());
                all
            }
            Method::Exclusive { inclusive_prefixes } => {
                let mut used = vec![element.prefix.clone()];
                used.extend(
                    element
                        .attributes
                        .iter()
                        .filter(|a| !a.prefix.is_empty())
                        .map(|a| a.prefix.clone()),
                );
                used.extend(
                    inclusive_prefixes
                        .iter()
                        .map(|p| {
                            if p == "#default" {
                                String::new()
                            } else {
                                p.clone()
                            }
                        })
                        .filter(|p| p.is_empty() || scope.contains_key(p)),
                );
                used
            }
        };
        let mut written = written.clone();
        let mut declared: BTreeMap<&str, &str> = BTreeMap::new();
        for prefix in &candidates {
            if prefix == "xml" {
                continue;
            }
            let uri = scope.get(prefix).map_or("", String::as_str);
            let before = written.get(prefix).map_or("", String::as_str);
            if uri != before {
                declared.insert(prefix, uri);
            }
        }
        let declared: Vec<(String, String)> = declared
            .into_iter()
            .map(|(p, u)| (p.to_owned(), u.to_owned()))
            .collect();
        for (prefix, uri) in &declared {
            written.insert(prefix.clone(), uri.clone());
        }

        let mut attributes: Vec<(&str, &str, String, &str)> = element
            .attributes
            .iter()
            .map(|a| {
                let qname = if a.prefix.is_empty() {
                    a.name.clone()
                } else {
                    format!("{}:{}", a.prefix, a.name)
                };
                (
                    a.namespace.as_str(),
                    a.name.as_str(),
                    qname,
                    a.value.as_str(),
                )
            })
            .collect();
        if apex && let Method::Inclusive { v11 } = self.how.method {
            // The top element of an inclusive subset inherits its ancestors' xml:*
            // (version 1.1: xml:lang and xml:space only; its xml:base fix-up is not
            // done, so a subset under an xml:base does not verify).
            for (name, value) in self.inherited_xml_attributes(id) {
                if v11 && !matches!(name, "lang" | "space") {
                    continue;
                }
                if !attributes.iter().any(|a| a.0 == XML_NS && a.1 == name) {
                    attributes.push((XML_NS, name, format!("xml:{name}"), value));
                }
            }
        }
        attributes.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));

        let qname = element.qname();
        out.push('<');
        out.push_str(&qname);
        for (prefix, uri) in &declared {
            out.push_str(if prefix.is_empty() {
                " xmlns"
            } else {
                " xmlns:"
            });
            out.push_str(prefix);
            out.push_str("=\"");
            escape_attribute(uri, out);
            out.push('"');
        }
        for (_, _, name, value) in &attributes {
            out.push(' ');
            out.push_str(name);
            out.push_str("=\"");
            escape_attribute(value, out);
            out.push('"');
        }
        out.push('>');
        for &child in &element.children {
            self.node(child, &scope, &written, out, false);
        }
        out.push_str("</");
        out.push_str(&qname);
        out.push('>');
    }

    /// The `xml:` attributes of the ancestors of `id`, nearest first winning.
    fn inherited_xml_attributes(&self, id: NodeId) -> Vec<(&str, &str)> {
        let mut found: Vec<(&str, &str)> = Vec::new();
        let mut at = self.doc.node(id).parent;
        while let Some(n) = at {
            if let Some(e) = self.doc.element(n) {
                for a in e.attributes.iter().filter(|a| a.namespace == XML_NS) {
                    if !found.iter().any(|(name, _)| *name == a.name) {
                        found.push((&a.name, &a.value));
                    }
                }
            }
            at = self.doc.node(n).parent;
        }
        found
    }
}

fn escape_text(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attribute(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(xml: &str, uri: &str, prefixes: Option<&str>, apex_path: &[usize]) -> String {
        let doc = Document::parse(xml).unwrap();
        let mut at = doc.root();
        for &i in apex_path {
            at = doc.child_elements(at).nth(i).unwrap().0;
        }
        let how = Canonicalization::from_uri(uri, prefixes).unwrap();
        String::from_utf8(how.apply(&doc, at, None)).unwrap()
    }

    // Examples from the Canonical XML and Exclusive Canonicalization recommendations,
    // worked through by hand.
    #[test]
    fn empty_elements_attributes_and_escapes() {
        let xml = "<doc>\n   <e1   />\n   <e2   ></e2>\n   <e3   name = \"elem3\"   id=\"elem3\"   />\n   <e5 a:attr=\"out\" b:attr=\"sorted\" attr2=\"all\" attr=\"I'm\"\n      xmlns:b=\"http://www.ietf.org\"\n      xmlns:a=\"http://www.w3.org\"\n      xmlns=\"http://example.org\"/>\n   <e6 xmlns=\"\" xmlns:a=\"http://www.w3.org\">\n      <e7 xmlns=\"http://www.ietf.org\">\n         <e8 xmlns=\"\" xmlns:a=\"http://www.w3.org\">\n            <e9 xmlns=\"\" xmlns:a=\"http://www.ietf.org\"/>\n         </e8>\n      </e7>\n   </e6>\n</doc>";
        let expected = "<doc>\n   <e1></e1>\n   <e2></e2>\n   <e3 id=\"elem3\" name=\"elem3\"></e3>\n   <e5 xmlns=\"http://example.org\" xmlns:a=\"http://www.w3.org\" xmlns:b=\"http://www.ietf.org\" attr=\"I'm\" attr2=\"all\" b:attr=\"sorted\" a:attr=\"out\"></e5>\n   <e6 xmlns:a=\"http://www.w3.org\">\n      <e7 xmlns=\"http://www.ietf.org\">\n         <e8 xmlns=\"\">\n            <e9 xmlns:a=\"http://www.ietf.org\"></e9>\n         </e8>\n      </e7>\n   </e6>\n</doc>";
        assert_eq!(canon(xml, C14N, None, &[]), expected);
    }

    #[test]
    fn text_and_attribute_escaping() {
        let xml = "<doc a=\"&#x9;x&#xA;&#xD;&quot;&lt;&amp;\">&#xD;&gt;&lt;&amp;'\"</doc>";
        assert_eq!(
            canon(xml, C14N, None, &[]),
            "<doc a=\"&#x9;x&#xA;&#xD;&quot;&lt;&amp;\">&#xD;&gt;&lt;&amp;'\"</doc>"
        );
    }

    #[test]
    fn subsets_take_namespaces_from_ancestors() {
        let xml = "<n0:local xmlns:n0=\"foo:bar\" xmlns:n3=\"ftp://example.org\"><n1:elem2 xmlns:n1=\"http://example.net\" xml:lang=\"en\"><n3:stuff xmlns:n3=\"ftp://example.org\"/></n1:elem2></n0:local>";
        assert_eq!(
            canon(xml, C14N, None, &[0]),
            "<n1:elem2 xmlns:n0=\"foo:bar\" xmlns:n1=\"http://example.net\" xmlns:n3=\"ftp://example.org\" xml:lang=\"en\"><n3:stuff></n3:stuff></n1:elem2>"
        );
        assert_eq!(
            canon(xml, EXC_C14N, None, &[0]),
            "<n1:elem2 xmlns:n1=\"http://example.net\" xml:lang=\"en\"><n3:stuff xmlns:n3=\"ftp://example.org\"></n3:stuff></n1:elem2>"
        );
        assert_eq!(
            canon(xml, EXC_C14N, Some("n3"), &[0]),
            "<n1:elem2 xmlns:n1=\"http://example.net\" xmlns:n3=\"ftp://example.org\" xml:lang=\"en\"><n3:stuff></n3:stuff></n1:elem2>"
        );
    }

    #[test]
    fn inclusive_subsets_inherit_xml_attributes() {
        let xml = "<a xml:lang=\"en\" xml:space=\"preserve\"><b xml:lang=\"fr\"/></a>";
        assert_eq!(
            canon(xml, C14N, None, &[0]),
            "<b xml:lang=\"fr\" xml:space=\"preserve\"></b>"
        );
        assert_eq!(canon(xml, EXC_C14N, None, &[0]), "<b xml:lang=\"fr\"></b>");
    }

    #[test]
    fn exclusive_default_namespace_handling() {
        let xml = "<a xmlns=\"urn:a\"><b xmlns=\"\"><c/></b><d/></a>";
        assert_eq!(
            canon(xml, EXC_C14N, None, &[]),
            "<a xmlns=\"urn:a\"><b xmlns=\"\"><c></c></b><d></d></a>"
        );
        // From the subset the undeclaring of the default is not written.
        assert_eq!(canon(xml, EXC_C14N, None, &[0]), "<b><c></c></b>");
    }

    #[test]
    fn comments_only_when_asked() {
        let xml = "<a><!--x--><?p d?>t</a>";
        assert_eq!(canon(xml, EXC_C14N, None, &[]), "<a><?p d?>t</a>");
        assert_eq!(
            canon(xml, EXC_C14N_WITH_COMMENTS, None, &[]),
            "<a><!--x--><?p d?>t</a>"
        );
    }
}
