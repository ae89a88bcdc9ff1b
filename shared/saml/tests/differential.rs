//! The crate against xmlsec1 and libxml2 (python-xmlsec and lxml, driven by
//! `tests/xmlsec_oracle.py`, one run per test). On a few thousand signed SAML responses
//! of every shape, and alterations of each (see the oracle for both):
//! - the crate accepts a signature exactly where xmlsec1 verifies it and the SAML
//!   profile the crate implements allows it (both then digested the same octets, as
//!   they checked the one digest);
//! - `read_response` accepts exactly the responses whose signatures so combine, and
//!   reads from them the subject and attributes of the element xmlsec1 verified;
//! - exclusive canonicalization, with and without comments and inclusive prefixes, of
//!   whole subtrees and of subtrees less their signature, gives what libxml2 gives for
//!   the same node set.
//!
//! Where the crate refuses what xmlsec1 verifies, it is by design, and the oracle names
//! each such case:
//! - SHA-1, as signature or digest: refused as too weak (xmlsec1 takes it).
//! - A signature that does not sit in the element it references by `ID`, a reference
//!   to anything else, several references or signatures, an `ID` that occurs twice in
//!   the document, transforms other than the enveloped signature followed by at most
//!   one canonicalization: SAML core 5.4 asks for the one form, and each of the others
//!   is a way for signature wrapping to make a signature vouch for something the
//!   reader does not read. xmlsec1 checks only that the signature holds over the node
//!   it resolves.
//! - A document type declaration: refused outright (no entity ever expands), where
//!   libxml2 expands internal entities.
//!
//! And where the two canonicalize otherwise, by design, the crate may refuse what
//! xmlsec1 verifies but never accepts what it refuses:
//! - An `InclusiveNamespaces PrefixList` with a run of spaces, a leading space, a tab
//!   or a line break: the list is white-space separated (XML Schema `NMTOKENS`), and so
//!   the crate reads it, while xmlsec1 splits at each single space, takes the empty
//!   prefix that a run or a leading space leaves for `#default`, and does not split at
//!   tabs or line breaks.
//! - Canonical XML 1.1 under an `xml:base`: the crate does not make the fix-up that
//!   gives the top element of the subset its ancestors' base.
//!
//! lxml's own `tostring(method="c14n", exclusive=True)` of an element is not the oracle
//! for canonicalization: it canonicalizes the element as a document of its own, which
//! leaves out an in-scope default namespace that `#default` names. The node set is
//! canonicalized by libxml2 through xmlsec1 (a reference narrowed by XPath Filter 2.0,
//! its digest compared).
//!
//! Requires python3 on PATH with lxml and xmlsec (the test virtualenv of `.ci/test`).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portcullis_saml::c14n::{Canonicalization, EXC_C14N, EXC_C14N_WITH_COMMENTS};
use portcullis_saml::dsig::{DSIG_NS, SignatureError, verify_enveloped};
use portcullis_saml::key::PublicKey;
use portcullis_saml::xml::{Document, NodeId};
use portcullis_saml::{Expectations, IdentityProvider, read_response};
use serde::Deserialize;
use time::macros::datetime;

#[derive(Deserialize)]
struct Batch {
    versions: BTreeMap<String, String>,
    certificates: Vec<String>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    xml: String,
    parse_error: Option<String>,
    #[serde(default)]
    doctype: bool,
    #[serde(default)]
    elements: Vec<Element>,
    response: Option<Response>,
    #[serde(default)]
    c14n: Vec<Probe>,
}

/// What the oracle makes of a `Response` or `Assertion` element.
#[derive(Deserialize)]
struct Element {
    path: Vec<usize>,
    name: String,
    /// "absent", "valid" or "invalid".
    state: String,
    /// xmlsec1 verifies the signature, taking every algorithm it knows.
    #[serde(default)]
    xmlsec: bool,
    /// ... and taking only the algorithms the crate accepts.
    #[serde(default)]
    xmlsec_policy: bool,
    /// The SAML profile rules the signature breaks.
    #[serde(default)]
    profile: Vec<String>,
    /// Where xmlsec1 canonicalizes otherwise than the crate by design: "prefix list"
    /// (an `InclusiveNamespaces` list xmlsec1 reads otherwise than the recommendation),
    /// "xml:base" (Canonical XML 1.1's fix-up of `xml:base`, which the crate lacks).
    known_difference: Option<String>,
}

#[derive(Deserialize)]
struct Response {
    accepted: bool,
    #[serde(default)]
    name_id: String,
    #[serde(default)]
    attributes: Vec<(String, Vec<String>)>,
}

/// An exclusive canonical form by libxml2: its SHA-256, as xmlsec1 digests the node set,
/// and lxml's canonical form of the element on its own (for the report).
#[derive(Deserialize)]
struct Probe {
    path: Vec<usize>,
    comments: bool,
    prefixes: Vec<String>,
    /// Without the element's `ds:Signature` child.
    omit: bool,
    sha256: String,
    /// Where it differs from libxml2's form of the node set.
    lxml: Option<String>,
}

fn oracle(seed: u64, documents: usize, alterations: usize, c14n_only: bool) -> Batch {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/xmlsec_oracle.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3 (with lxml and xmlsec, as .ci/test installs them)");
    let request = serde_json::json!({
        "seed": seed, "documents": documents, "alterations": alterations,
        "c14n_only": c14n_only,
    });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{} failed:\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn at_path(doc: &Document, path: &[usize]) -> NodeId {
    let mut at = doc.root();
    for &i in path {
        at = doc.child_elements(at).nth(i).unwrap().0;
    }
    at
}

fn idp(batch: &Batch) -> IdentityProvider {
    IdentityProvider {
        entity_id: "https://idp.example.com/saml".into(),
        signing_keys: batch
            .certificates
            .iter()
            .map(|c| PublicKey::from_certificate(&STANDARD.decode(c).unwrap()).unwrap())
            .collect(),
        single_sign_on: Vec::new(),
        single_logout: Vec::new(),
        want_authn_requests_signed: false,
    }
}

fn expect() -> Expectations<'static> {
    Expectations {
        audiences: &["urn:amazon:webservices"],
        recipients: &["https://signin.aws.amazon.com/saml"],
        in_response_to: None,
        now: datetime!(2026-03-01 10:01 UTC),
        skew: time::Duration::minutes(1),
        decryption: None,
    }
}

/// Disagreements, kept to report them all at once.
#[derive(Default)]
struct Findings(Vec<String>);

impl Findings {
    fn check(&mut self, ok: bool, case: &Case, what: impl FnOnce() -> String) {
        if !ok {
            let xml = if self.0.len() < 3 {
                format!("\n{}\n", case.xml)
            } else {
                String::new()
            };
            self.0.push(format!("{}: {}{xml}", case.name, what()));
        }
    }

    fn assert_none(self, batch: &Batch) {
        assert!(
            self.0.is_empty(),
            "{} disagreements with xmlsec1/libxml2 ({:?}); the first:\n{}",
            self.0.len(),
            batch.versions,
            self.0
                .iter()
                .take(12)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// How often each kind of verdict came up, to show the batch covered them.
#[derive(Default, Debug)]
struct Tally {
    valid: usize,
    invalid: usize,
    absent: usize,
    /// xmlsec1 verifies, the crate refuses: SHA-1.
    weak_algorithm: usize,
    /// xmlsec1 verifies, the crate refuses: the profile's rules.
    xmlsec_but_not_profile: usize,
    /// The profile's rules broken, by rule.
    profile: BTreeMap<String, usize>,
    accepted: usize,
    refused: usize,
    altered_and_still_valid: usize,
    doctype: usize,
    /// Signed by xmlsec1 where it canonicalizes otherwise by design, and refused here.
    known_difference_refused: BTreeMap<String, usize>,
}

#[test]
fn signatures_verify_exactly_where_xmlsec1_verifies_them() {
    let batch = oracle(0x5A11_0001, 220, 12, false);
    let idp = idp(&batch);
    let mut findings = Findings::default();
    let mut tally = Tally::default();
    for case in &batch.cases {
        let parsed = Document::parse(&case.xml);
        if let Some(error) = &case.parse_error {
            findings.check(parsed.is_err(), case, || {
                format!("libxml2 refuses it ({error}), the crate reads it")
            });
            continue;
        }
        if case.doctype {
            // Intended: no document type declaration is read at all.
            tally.doctype += 1;
            findings.check(parsed.is_err(), case, || {
                "the crate reads a document type declaration".into()
            });
            findings.check(
                read_response(&case.xml, &idp, &expect()).is_err(),
                case,
                || "a response with a document type declaration is accepted".into(),
            );
            continue;
        }
        let doc = match parsed {
            Ok(doc) => doc,
            Err(e) => {
                findings.check(false, case, || format!("libxml2 reads it, the crate: {e}"));
                continue;
            }
        };
        for element in &case.elements {
            check_element(&doc, case, element, &idp, &mut findings, &mut tally);
        }
        let Some(expected) = &case.response else {
            continue;
        };
        let read = read_response(&case.xml, &idp, &expect());
        let read_otherwise = case.elements.iter().any(|e| e.known_difference.is_some());
        match (&read, expected.accepted) {
            (Err(_), true) if read_otherwise => tally.refused += 1,
            (Ok(assertion), true) => {
                tally.accepted += 1;
                findings.check(assertion.name_id == expected.name_id.trim(), case, || {
                    format!(
                        "NameID {:?}, xmlsec1's element says {:?}",
                        assertion.name_id, expected.name_id
                    )
                });
                findings.check(assertion.attributes == expected.attributes, case, || {
                    format!(
                        "attributes {:?}, xmlsec1's element says {:?}",
                        assertion.attributes, expected.attributes
                    )
                });
            }
            (Err(_), false) => tally.refused += 1,
            (Ok(_), false) => findings.check(false, case, || {
                "the response is accepted; by xmlsec1 and the profile it is not".into()
            }),
            (Err(e), true) => findings.check(false, case, || {
                format!("the response is refused ({e}); by xmlsec1 and the profile it is fine")
            }),
        }
    }
    eprintln!(
        "{:?}: {} documents: {tally:#?}",
        batch.versions,
        batch.cases.len()
    );
    findings.assert_none(&batch);

    // The batch covers what it is meant to.
    assert!(batch.cases.len() > 2000, "{} cases", batch.cases.len());
    assert!(tally.valid > 400 && tally.invalid > 400, "{tally:?}");
    assert!(tally.accepted > 300 && tally.refused > 1000, "{tally:?}");
    assert!(tally.altered_and_still_valid > 100, "{tally:?}");
    assert!(tally.weak_algorithm > 5 && tally.doctype > 5, "{tally:?}");
    assert!(tally.xmlsec_but_not_profile > 50, "{tally:?}");
    for difference in ["prefix list", "xml:base"] {
        assert!(
            tally
                .known_difference_refused
                .get(difference)
                .is_some_and(|n| *n > 0),
            "no case of {difference:?}: {tally:?}"
        );
    }
    for rule in [
        "duplicate IDs",
        "the reference is not to the element carrying the signature",
        "the enveloped-signature transform is not first",
        "transforms beyond one canonicalization",
    ] {
        assert!(
            tally.profile.get(rule).is_some_and(|n| *n > 0),
            "no case of {rule:?}: {tally:?}"
        );
    }
}

fn check_element(
    doc: &Document,
    case: &Case,
    element: &Element,
    idp: &IdentityProvider,
    findings: &mut Findings,
    tally: &mut Tally,
) {
    let node = at_path(doc, &element.path);
    findings.check(
        doc.element(node).is_some_and(|e| e.name == element.name),
        case,
        || format!("no {} at {:?}", element.name, element.path),
    );
    let verdict = verify_enveloped(doc, node, &idp.signing_keys);
    let what = || format!("{} at {:?}", element.name, element.path);
    if let Some(difference) = &element.known_difference {
        // xmlsec1 digested another canonical form than the crate computes: the crate
        // may refuse what xmlsec1 verifies, but never accepts what it refuses.
        match &verdict {
            Ok(()) => findings.check(element.state == "valid", case, || {
                format!("{}: the crate accepts what xmlsec1 refuses", what())
            }),
            Err(_) if element.state == "valid" => {
                *tally
                    .known_difference_refused
                    .entry(difference.clone())
                    .or_default() += 1;
            }
            Err(_) => {}
        }
        return;
    }
    match element.state.as_str() {
        "absent" => {
            tally.absent += 1;
            findings.check(verdict == Err(SignatureError::Unsigned), case, || {
                format!(
                    "{}: unsigned for xmlsec1, the crate says {verdict:?}",
                    what()
                )
            });
        }
        "valid" => {
            tally.valid += 1;
            if !case.name.ends_with(|c: char| c.is_ascii_digit()) {
                tally.altered_and_still_valid += 1;
            }
            // Both verify the one digest, so both digested the same octets.
            if let Err(e) = &verdict {
                findings.check(false, case, || {
                    format!("{}: xmlsec1 verifies it, the crate says {e}", what())
                });
            }
        }
        _ => {
            tally.invalid += 1;
            if element.xmlsec && !element.xmlsec_policy {
                tally.weak_algorithm += 1;
            }
            if element.xmlsec_policy && !element.profile.is_empty() {
                tally.xmlsec_but_not_profile += 1;
            }
            for rule in &element.profile {
                *tally.profile.entry(rule.clone()).or_default() += 1;
            }
            let refused = matches!(&verdict, Err(e) if *e != SignatureError::Unsigned);
            findings.check(refused, case, || {
                format!(
                    "{}: the crate says {:?}; xmlsec1 {}, profile {:?}",
                    what(),
                    verdict,
                    if element.xmlsec_policy {
                        "verifies it"
                    } else if element.xmlsec {
                        "verifies it only with SHA-1"
                    } else {
                        "does not verify it"
                    },
                    element.profile
                )
            });
        }
    }
}

#[test]
fn exclusive_canonicalization_matches_libxml2() {
    let batch = oracle(0xC14E_0002, 150, 6, true);
    let mut findings = Findings::default();
    let mut probes = 0;
    let mut lxml_differs = 0;
    for case in &batch.cases {
        if case.c14n.is_empty() {
            continue;
        }
        let doc = match Document::parse(&case.xml) {
            Ok(doc) => doc,
            Err(e) => {
                findings.check(false, case, || format!("libxml2 reads it, the crate: {e}"));
                continue;
            }
        };
        for probe in &case.c14n {
            probes += 1;
            let node = at_path(&doc, &probe.path);
            let omit = probe
                .omit
                .then(|| doc.children_named(node, DSIG_NS, "Signature").next())
                .flatten();
            let uri = if probe.comments {
                EXC_C14N_WITH_COMMENTS
            } else {
                EXC_C14N
            };
            let prefixes = probe.prefixes.join(" ");
            let how = Canonicalization::from_uri(uri, Some(&prefixes)).unwrap();
            let ours = how.apply(&doc, node, omit);
            let sha256 = STANDARD.encode(digest::digest(&digest::SHA256, &ours));
            findings.check(sha256 == probe.sha256, case, || {
                format!(
                    "{:?} (comments {}, prefixes {prefixes:?}, without signature {}):\n{}\n\
                     is not what libxml2 digests; lxml's form of the element alone:\n{}",
                    probe.path,
                    probe.comments,
                    probe.omit,
                    String::from_utf8_lossy(&ours),
                    probe.lxml.as_deref().unwrap_or("(the same as libxml2's)")
                )
            });
            if probe.lxml.is_some() {
                lxml_differs += 1;
            }
        }
    }
    eprintln!(
        "{:?}: {probes} canonical forms compared; lxml's form of the element alone differs \
         from the node set's in {lxml_differs}",
        batch.versions
    );
    findings.assert_none(&batch);
    assert!(probes > 2000, "{probes} canonical forms");
}
