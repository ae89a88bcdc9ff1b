//! A strict XML reader for the messages a relying party verifies.
//!
//! It keeps what canonicalization needs and generic readers lose: each element's and
//! attribute's prefix as written, the namespace declarations an element carries, and
//! comments and processing instructions in place. Document type declarations are
//! refused (no entity can expand), as are undeclared prefixes, duplicate attributes and
//! anything not well-formed. Line ends and attribute values are normalized as XML 1.0
//! says, and character references are expanded, so the tree holds the values a
//! canonicalizer renders.

use std::collections::BTreeMap;

/// The namespace the `xml` prefix is bound to, always.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// Elements may not nest deeper than this.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed XML at byte {at}: {what}")]
pub struct XmlError {
    pub at: usize,
    pub what: &'static str,
}

/// An index into a document's nodes.
pub type NodeId = usize;

#[derive(Debug, Clone)]
pub struct Attribute {
    pub prefix: String,
    pub name: String,
    /// The namespace of a prefixed attribute; empty for an unprefixed one.
    pub namespace: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct Element {
    pub prefix: String,
    pub name: String,
    pub namespace: String,
    /// `xmlns` (prefix "") and `xmlns:p` declarations, in document order.
    pub declarations: Vec<(String, String)>,
    /// The other attributes, in document order.
    pub attributes: Vec<Attribute>,
    pub children: Vec<NodeId>,
}

impl Element {
    /// The name as written, `prefix:name` or `name`.
    #[must_use]
    pub fn qname(&self) -> String {
        if self.prefix.is_empty() {
            self.name.clone()
        } else {
            format!("{}:{}", self.prefix, self.name)
        }
    }

    /// An unprefixed attribute's value.
    #[must_use]
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.namespace.is_empty() && a.name == name)
            .map(|a| a.value.as_str())
    }

    #[must_use]
    pub fn is(&self, namespace: &str, name: &str) -> bool {
        self.namespace == namespace && self.name == name
    }
}

#[derive(Debug, Clone)]
pub enum Kind {
    Element(Element),
    Text(String),
    Comment(String),
    Instruction { target: String, data: String },
}

#[derive(Debug, Clone)]
pub struct Node {
    pub parent: Option<NodeId>,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub struct Document {
    nodes: Vec<Node>,
    root: NodeId,
}

impl Document {
    /// Parses a whole document: an optional declaration, comments and processing
    /// instructions, and one element.
    pub fn parse(text: &str) -> Result<Self, XmlError> {
        Parser::new(text).document()
    }

    #[must_use]
    pub fn root(&self) -> NodeId {
        self.root
    }

    #[must_use]
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// The element at `id`; `None` for other nodes.
    #[must_use]
    pub fn element(&self, id: NodeId) -> Option<&Element> {
        match &self.nodes.get(id)?.kind {
            Kind::Element(e) => Some(e),
            _ => None,
        }
    }

    /// The element children of `id`, in order.
    pub fn child_elements(&self, id: NodeId) -> impl Iterator<Item = (NodeId, &Element)> + '_ {
        self.element(id)
            .map(|e| e.children.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|&c| self.element(c).map(|e| (c, e)))
    }

    /// The children of `id` named `{namespace}name`.
    pub fn children_named<'a>(
        &'a self,
        id: NodeId,
        namespace: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = NodeId> + 'a {
        self.child_elements(id)
            .filter(move |(_, e)| e.is(namespace, name))
            .map(|(c, _)| c)
    }

    /// The only child of `id` named `{namespace}name`: `Ok(None)` when there is none,
    /// an error when there are several.
    pub fn only_child(
        &self,
        id: NodeId,
        namespace: &str,
        name: &str,
    ) -> Result<Option<NodeId>, &'static str> {
        let mut found = self.children_named(id, namespace, name);
        let first = found.next();
        if found.next().is_some() {
            return Err("an element that may occur once occurs more than once");
        }
        Ok(first)
    }

    /// The text directly inside `id` (its text children, joined).
    #[must_use]
    pub fn text(&self, id: NodeId) -> String {
        let Some(e) = self.element(id) else {
            return String::new();
        };
        e.children
            .iter()
            .filter_map(|&c| match &self.nodes[c].kind {
                Kind::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The namespaces in scope at `id`, by prefix ("" for the default namespace, absent
    /// when there is none or it was undeclared).
    #[must_use]
    pub fn in_scope(&self, id: NodeId) -> BTreeMap<String, String> {
        let mut chain = Vec::new();
        let mut at = Some(id);
        while let Some(n) = at {
            chain.push(n);
            at = self.nodes[n].parent;
        }
        let mut scope = BTreeMap::new();
        for n in chain.into_iter().rev() {
            if let Some(e) = self.element(n) {
                declare(&mut scope, &e.declarations);
            }
        }
        scope
    }

    /// Whether `id` lies inside (or is) `ancestor`.
    #[must_use]
    pub fn is_within(&self, id: NodeId, ancestor: NodeId) -> bool {
        let mut at = Some(id);
        while let Some(n) = at {
            if n == ancestor {
                return true;
            }
            at = self.nodes[n].parent;
        }
        false
    }

    /// Every element's `ID` attribute with the element carrying it (SAML's identifier
    /// attribute). Two elements with one identifier make the document ambiguous.
    pub fn ids(&self) -> Result<BTreeMap<&str, NodeId>, &'static str> {
        let mut ids = BTreeMap::new();
        for (n, node) in self.nodes.iter().enumerate() {
            if let Kind::Element(e) = &node.kind
                && let Some(id) = e.attr("ID")
                && ids.insert(id, n).is_some()
            {
                return Err("two elements have the same ID");
            }
        }
        Ok(ids)
    }
}

/// Applies an element's declarations to a scope: `xmlns=""` undeclares the default.
pub(crate) fn declare(scope: &mut BTreeMap<String, String>, declarations: &[(String, String)]) {
    for (prefix, uri) in declarations {
        if uri.is_empty() {
            scope.remove(prefix);
        } else {
            scope.insert(prefix.clone(), uri.clone());
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    nodes: Vec<Node>,
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || (c as u32 >= 0xC0 && !c.is_whitespace())
}

fn is_name_char(c: char) -> bool {
    is_name_start(c) || c.is_ascii_digit() || matches!(c, '-' | '.' | '\u{B7}')
}

/// Characters XML 1.0 allows in a document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn split_qname(qname: &str) -> Option<(&str, &str)> {
    match qname.split_once(':') {
        None => Some(("", qname)),
        Some((prefix, local))
            if !prefix.is_empty() && !local.is_empty() && !local.contains(':') =>
        {
            Some((prefix, local))
        }
        Some(_) => None,
    }
}

/// A start tag as read, before its names are resolved.
struct RawTag {
    qname: String,
    attributes: Vec<(String, String)>,
    empty: bool,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            pos: 0,
            nodes: Vec::new(),
        }
    }

    fn err<T>(&self, what: &'static str) -> Result<T, XmlError> {
        Err(XmlError { at: self.pos, what })
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn skip_space(&mut self) -> bool {
        let rest = self.rest();
        let trimmed = rest.trim_start_matches([' ', '\t', '\n', '\r']);
        self.pos += rest.len() - trimmed.len();
        rest.len() != trimmed.len()
    }

    /// Everything up to `end`, which is consumed too.
    fn until(&mut self, end: &str, what: &'static str) -> Result<&'a str, XmlError> {
        let Some(i) = self.rest().find(end) else {
            return self.err(what);
        };
        let found = &self.rest()[..i];
        self.pos += i + end.len();
        Ok(found)
    }

    fn name(&mut self) -> Result<&'a str, XmlError> {
        let rest = self.rest();
        let mut chars = rest.char_indices();
        match chars.next() {
            Some((_, c)) if is_name_start(c) => {}
            _ => return self.err("a name was expected"),
        }
        let end = chars
            .find(|&(_, c)| !(is_name_char(c) || c == ':'))
            .map_or(rest.len(), |(i, _)| i);
        self.pos += end;
        Ok(&rest[..end])
    }

    fn document(mut self) -> Result<Document, XmlError> {
        if self.text.chars().any(|c| !is_xml_char(c)) {
            return self.err("a character XML does not allow");
        }
        self.eat("\u{FEFF}");
        if self.rest().starts_with("<?xml") && {
            let next = self.rest()[5..].chars().next();
            next.is_some_and(|c| c.is_ascii_whitespace())
        } {
            self.declaration()?;
        }
        let mut top = Vec::new();
        let mut root = None;
        loop {
            self.skip_space();
            if self.rest().is_empty() {
                break;
            }
            if self.rest().starts_with("<!DOCTYPE") {
                return self.err("document type declarations are not accepted");
            }
            if let Some(misc) = self.misc()? {
                top.push(misc);
                continue;
            }
            if root.is_some() || !self.rest().starts_with('<') {
                return self.err("content after the document element");
            }
            root = Some(self.element()?);
        }
        let Some(root) = root else {
            return self.err("no document element");
        };
        Ok(Document {
            nodes: self.nodes,
            root,
        })
    }

    /// `<?xml version="1.0" encoding="UTF-8" standalone="..."?>`; only UTF-8 is read.
    fn declaration(&mut self) -> Result<(), XmlError> {
        let body = self.until("?>", "an unterminated XML declaration")?;
        let body = body.strip_prefix("<?xml").unwrap_or(body);
        if !body.contains("version") {
            return self.err("the XML declaration has no version");
        }
        if let Some(i) = body.find("encoding") {
            let value = body[i + 8..]
                .trim_start_matches([' ', '='])
                .trim_start_matches(['"', '\'']);
            let encoding: String = value
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if !encoding.eq_ignore_ascii_case("utf-8") {
                return self.err("only UTF-8 documents are read");
            }
        }
        Ok(())
    }

    /// A comment or processing instruction, if one starts here.
    fn misc(&mut self) -> Result<Option<NodeId>, XmlError> {
        if self.eat("<!--") {
            let body = self.until("-->", "an unterminated comment")?;
            if body.contains("--") || body.ends_with('-') {
                return self.err("a comment contains --");
            }
            return Ok(Some(self.push(None, Kind::Comment(normalize_lines(body)))));
        }
        if self.eat("<?") {
            let target = self.name()?;
            if target.eq_ignore_ascii_case("xml") || target.contains(':') {
                return self.err("a reserved processing instruction target");
            }
            let spaced = self.skip_space();
            let data = self.until("?>", "an unterminated processing instruction")?;
            if !spaced && !data.is_empty() {
                return self.err("a processing instruction target runs into its data");
            }
            return Ok(Some(self.push(
                None,
                Kind::Instruction {
                    target: target.to_owned(),
                    data: normalize_lines(data),
                },
            )));
        }
        Ok(None)
    }

    fn push(&mut self, parent: Option<NodeId>, kind: Kind) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(Node { parent, kind });
        if let Some(p) = parent
            && let Kind::Element(e) = &mut self.nodes[p].kind
        {
            e.children.push(id);
        }
        id
    }

    fn start_tag(&mut self) -> Result<RawTag, XmlError> {
        let qname = self.name()?.to_owned();
        let mut attributes: Vec<(String, String)> = Vec::new();
        loop {
            let spaced = self.skip_space();
            if self.eat("/>") {
                return Ok(RawTag {
                    qname,
                    attributes,
                    empty: true,
                });
            }
            if self.eat(">") {
                return Ok(RawTag {
                    qname,
                    attributes,
                    empty: false,
                });
            }
            if !spaced {
                return self.err("attributes must be separated by white space");
            }
            let name = self.name()?.to_owned();
            self.skip_space();
            if !self.eat("=") {
                return self.err("an attribute without a value");
            }
            self.skip_space();
            let quote = match self.rest().chars().next() {
                Some(q @ ('"' | '\'')) => q,
                _ => return self.err("an attribute value must be quoted"),
            };
            self.pos += 1;
            let raw = self.until(&quote.to_string(), "an unterminated attribute value")?;
            if raw.contains('<') {
                return self.err("an attribute value contains <");
            }
            let value = expand(&raw.replace("\r\n", " ").replace(['\t', '\n', '\r'], " "))
                .map_err(|what| XmlError { at: self.pos, what })?;
            if attributes.iter().any(|(n, _)| *n == name) {
                return self.err("an attribute occurs twice");
            }
            attributes.push((name, value));
        }
    }

    /// Reads an element and everything in it, without recursion.
    fn element(&mut self) -> Result<NodeId, XmlError> {
        // Open elements: (node, qname, scope before it).
        let mut open: Vec<(NodeId, String, BTreeMap<String, String>)> = Vec::new();
        let mut scope: BTreeMap<String, String> = BTreeMap::new();
        loop {
            let parent = open.last().map(|(n, _, _)| *n);
            if parent.is_some() {
                let text_end = self.rest().find('<').unwrap_or(self.rest().len());
                if text_end > 0 {
                    let raw = &self.rest()[..text_end];
                    if raw.contains("]]>") {
                        return self.err("text contains ]]>");
                    }
                    let text = expand(&normalize_lines(raw))
                        .map_err(|what| XmlError { at: self.pos, what })?;
                    self.pos += text_end;
                    self.text_node(parent, &text);
                    continue;
                }
            }
            if self.rest().is_empty() {
                return self.err("an element is not closed");
            }
            if self.eat("<![CDATA[") {
                let Some(p) = parent else {
                    return self.err("character data outside the document element");
                };
                let body = self.until("]]>", "unterminated character data")?;
                self.text_node(Some(p), &normalize_lines(body));
                continue;
            }
            if let Some(p) = parent
                && (self.rest().starts_with("<!--") || self.rest().starts_with("<?"))
            {
                if let Some(node) = self.misc()? {
                    self.nodes[node].parent = Some(p);
                    if let Kind::Element(e) = &mut self.nodes[p].kind {
                        e.children.push(node);
                    }
                }
                continue;
            }
            if self.eat("</") {
                let name = self.name()?;
                self.skip_space();
                if !self.eat(">") {
                    return self.err("an end tag is not closed");
                }
                let Some((node, qname, outer)) = open.pop() else {
                    return self.err("an end tag without a start tag");
                };
                if name != qname {
                    return self.err("an end tag does not match its start tag");
                }
                scope = outer;
                if open.is_empty() {
                    return Ok(node);
                }
                continue;
            }
            if !self.eat("<") {
                return self.err("markup was expected");
            }
            if self.rest().starts_with('!') {
                return self.err("declarations are not accepted inside the document");
            }
            if open.len() >= MAX_DEPTH {
                return self.err("elements nest too deeply");
            }
            let tag = self.start_tag()?;
            let outer = scope.clone();
            let element = self.resolve(tag.qname.clone(), tag.attributes, &mut scope)?;
            let node = self.push(parent, Kind::Element(element));
            if tag.empty {
                scope = outer;
                if open.is_empty() {
                    return Ok(node);
                }
            } else {
                open.push((node, tag.qname, outer));
            }
        }
    }

    fn text_node(&mut self, parent: Option<NodeId>, text: &str) {
        let Some(p) = parent else { return };
        // Adjacent text and character data are one text node, as XPath sees them.
        if let Some(&last) = self.element_children(p).last()
            && let Kind::Text(t) = &mut self.nodes[last].kind
        {
            t.push_str(text);
            return;
        }
        self.push(Some(p), Kind::Text(text.to_owned()));
    }

    fn element_children(&self, id: NodeId) -> &[NodeId] {
        match &self.nodes[id].kind {
            Kind::Element(e) => &e.children,
            _ => &[],
        }
    }

    /// Splits namespace declarations from attributes and resolves every prefix.
    fn resolve(
        &self,
        qname: String,
        raw: Vec<(String, String)>,
        scope: &mut BTreeMap<String, String>,
    ) -> Result<Element, XmlError> {
        let mut declarations = Vec::new();
        let mut plain = Vec::new();
        for (name, value) in raw {
            if name == "xmlns" {
                declarations.push((String::new(), value));
            } else if let Some(prefix) = name.strip_prefix("xmlns:") {
                if value.is_empty() || prefix == "xmlns" || split_qname(&name).is_none() {
                    return self.err("a namespace prefix is declared wrongly");
                }
                if (prefix == "xml") != (value == XML_NS) {
                    return self.err("the xml prefix is bound to another namespace");
                }
                declarations.push((prefix.to_owned(), value));
            } else {
                plain.push((name, value));
            }
        }
        declare(scope, &declarations);
        let lookup = |prefix: &str| -> Result<String, XmlError> {
            if prefix == "xml" {
                return Ok(XML_NS.to_owned());
            }
            scope
                .get(prefix)
                .cloned()
                .map_or_else(|| self.err("a prefix is not declared"), Ok)
        };
        let Some((prefix, name)) = split_qname(&qname) else {
            return self.err("a malformed qualified name");
        };
        if prefix == "xmlns" {
            return self.err("an element in the xmlns namespace");
        }
        let namespace = if prefix.is_empty() {
            scope.get("").cloned().unwrap_or_default()
        } else {
            lookup(prefix)?
        };
        let mut attributes: Vec<Attribute> = Vec::with_capacity(plain.len());
        for (qname, value) in plain {
            let Some((prefix, name)) = split_qname(&qname) else {
                return self.err("a malformed qualified name");
            };
            let namespace = if prefix.is_empty() {
                String::new()
            } else {
                lookup(prefix)?
            };
            if attributes
                .iter()
                .any(|a| a.namespace == namespace && a.name == name)
            {
                return self.err("an attribute occurs twice");
            }
            attributes.push(Attribute {
                prefix: prefix.to_owned(),
                name: name.to_owned(),
                namespace,
                value,
            });
        }
        Ok(Element {
            prefix: prefix.to_owned(),
            name: name.to_owned(),
            namespace,
            declarations,
            attributes,
            children: Vec::new(),
        })
    }
}

fn normalize_lines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// Expands the five predefined entities and character references.
fn expand(text: &str) -> Result<String, &'static str> {
    if !text.contains('&') {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let Some(end) = rest[i..].find(';') else {
            return Err("an unterminated reference");
        };
        let name = &rest[i + 1..i + end];
        let c = match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "apos" => '\'',
            "quot" => '"',
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = name.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    return Err("a reference to an unknown entity");
                };
                match code.and_then(char::from_u32) {
                    Some(c) if is_xml_char(c) => c,
                    _ => return Err("a reference to a character XML does not allow"),
                }
            }
        };
        out.push(c);
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_namespaces_and_text() {
        let doc = Document::parse(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- a -->\
             <p:a xmlns:p=\"urn:p\" xmlns=\"urn:d\" x=\"1&#10;2\t3\"><b p:y='&lt;'>t&amp;<![CDATA[<c>]]></b><?pi data?></p:a>",
        )
        .unwrap();
        let root = doc.element(doc.root()).unwrap();
        assert_eq!((root.prefix.as_str(), root.name.as_str()), ("p", "a"));
        assert_eq!(root.namespace, "urn:p");
        assert_eq!(root.attr("x"), Some("1\n2 3"));
        let (b_id, b) = doc.child_elements(doc.root()).next().unwrap();
        assert!(b.is("urn:d", "b"));
        assert_eq!(b.attributes[0].namespace, "urn:p");
        assert_eq!(b.attributes[0].value, "<");
        assert_eq!(doc.text(b_id), "t&<c>");
        assert_eq!(
            doc.in_scope(b_id).get("p").map(String::as_str),
            Some("urn:p")
        );
    }

    #[test]
    fn refuses_what_it_should() {
        for bad in [
            "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
            "<a>&x;</a>",
            "<a><b></a></b>",
            "<p:a/>",
            "<a x='1' x='2'/>",
            "<a xmlns:p='urn:1' xmlns:q='urn:1' p:x='1' q:x='2'/>",
            "<a/><b/>",
            "<a>",
            "<a x=1/>",
            "<a xmlns:p=''/>",
            "<?xml version='1.0' encoding='ISO-8859-1'?><a/>",
            "<a>&#0;</a>",
            "<a><!-- -- --></a>",
        ] {
            assert!(Document::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn duplicate_ids_are_found() {
        let doc = Document::parse("<a ID='x'><b ID='x'/></a>").unwrap();
        assert!(doc.ids().is_err());
        let doc = Document::parse("<a ID='x'><b ID='y'/></a>").unwrap();
        assert_eq!(doc.ids().unwrap().len(), 2);
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert!(Document::parse(&deep).is_err());
    }
}
