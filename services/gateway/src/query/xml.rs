//! The query protocol's answers: XML as botocore's query parser reads it, built with a
//! small writer that escapes every text and attribute.

use std::fmt::Write;

// Text and double-quoted attributes escape the same in XML as in HTML.
use crate::hosted::pages::escape;

/// Percent-encodes a policy document as IAM returns it (RFC 3986 unreserved kept);
/// botocore decodes it back into a document.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// An XML document built element by element.
#[derive(Default)]
pub struct Xml {
    out: String,
}

impl Xml {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn open(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.out, "<{name}>");
        self
    }

    pub fn close(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.out, "</{name}>");
        self
    }

    /// `<name>text</name>`.
    pub fn text(&mut self, name: &str, text: &str) -> &mut Self {
        let _ = write!(self.out, "<{name}>{}</{name}>", escape(text));
        self
    }

    /// Text inside the element opened last.
    pub fn content(&mut self, text: &str) -> &mut Self {
        self.out.push_str(&escape(text));
        self
    }

    /// `<name>` only when there is text.
    pub fn optional(&mut self, name: &str, text: &str) -> &mut Self {
        if !text.is_empty() {
            self.text(name, text);
        }
        self
    }

    /// `<name><member>..</member>...</name>`.
    pub fn members<T>(
        &mut self,
        name: &str,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Self, T),
    ) -> &mut Self {
        self.open(name);
        for item in items {
            self.open("member");
            each(self, item);
            self.close("member");
        }
        self.close(name)
    }

    /// `Tags` as IAM lists them, by key.
    pub fn tags(&mut self, tags: &std::collections::HashMap<String, String>) -> &mut Self {
        let mut sorted: Vec<_> = tags.iter().collect();
        sorted.sort();
        self.members("Tags", sorted, |xml, (key, value)| {
            xml.text("Key", key).text("Value", value);
        })
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// `<{Action}Response xmlns=..><{Action}Result>..</{Action}Result><ResponseMetadata>..`;
/// `result` is `None` for actions that answer nothing.
pub fn response(action: &str, namespace: &str, result: Option<Xml>, request_id: &str) -> String {
    let mut xml = Xml::new();
    let _ = write!(
        xml.out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><{action}Response xmlns=\"{}\">",
        escape(namespace)
    );
    if let Some(result) = result {
        xml.open(&format!("{action}Result"));
        xml.out.push_str(&result.out);
        xml.close(&format!("{action}Result"));
    }
    xml.open("ResponseMetadata")
        .text("RequestId", request_id)
        .close("ResponseMetadata")
        .close(&format!("{action}Response"));
    xml.finish()
}

/// `<ErrorResponse><Error><Type>..` with `Sender` for the caller's errors and `Receiver`
/// for ours.
pub fn error(namespace: &str, sender: bool, code: &str, message: &str, request_id: &str) -> String {
    let mut xml = Xml::new();
    let _ = write!(
        xml.out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ErrorResponse xmlns=\"{}\">",
        escape(namespace)
    );
    xml.open("Error")
        .text("Type", if sender { "Sender" } else { "Receiver" })
        .text("Code", code)
        .text("Message", message)
        .close("Error")
        .text("RequestId", request_id)
        .close("ErrorResponse");
    xml.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_policies_percent_encoded() {
        assert_eq!(
            escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(
            url_encode(r#"{"a": "b/c"}"#),
            "%7B%22a%22%3A%20%22b%2Fc%22%7D"
        );
        let mut xml = Xml::new();
        xml.text("Message", "1 < 2 & 3");
        assert_eq!(xml.finish(), "<Message>1 &lt; 2 &amp; 3</Message>");
    }

    #[test]
    fn responses_wrap_results_and_request_ids() {
        let mut result = Xml::new();
        result.members("PolicyNames", ["a", "b"], |xml, name| {
            xml.content(name);
        });
        let body = response("ListRolePolicies", "urn:ns", Some(result), "req-1");
        assert_eq!(
            body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListRolePoliciesResponse xmlns=\"urn:ns\">\
             <ListRolePoliciesResult><PolicyNames><member>a</member><member>b</member></PolicyNames>\
             </ListRolePoliciesResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>\
             </ListRolePoliciesResponse>"
        );
        let empty = response("DeleteRole", "urn:ns", None, "r");
        assert!(empty.contains("<DeleteRoleResponse xmlns=\"urn:ns\"><ResponseMetadata>"));
        let err = error(
            "urn:ns",
            true,
            "NoSuchEntity",
            "The role <x> cannot be found.",
            "r",
        );
        assert!(err.contains("<Type>Sender</Type><Code>NoSuchEntity</Code><Message>The role &lt;x&gt; cannot be found.</Message></Error><RequestId>r</RequestId>"));
    }
}
