//! The hosted UI's pages: server-rendered HTML that works without JavaScript. Every
//! value from a request or a pool is escaped; the pool's CSS, if any, is added last so
//! it can restyle the `*-customizable` classes that the pages carry, as Cognito's do.

use std::fmt::Write;

/// Escapes text for an HTML text node or a double-quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const BASE_CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1c2330;background:#f3f5f8}
.background-customizable{min-height:100vh;display:flex;align-items:flex-start;justify-content:center;padding:6vh 16px}
main{width:100%;max-width:400px;background:#fff;border-radius:10px;box-shadow:0 2px 12px rgba(20,30,50,.12);padding:28px 28px 24px}
.banner-customizable{text-align:center;margin-bottom:8px}
.logo-customizable{max-width:60%;max-height:80px}
h1{font-size:1.35rem;margin:0 0 16px;font-weight:600}
label,.label-customizable{display:block;font-weight:500;margin:14px 0 6px}
input[type=text],input[type=password],input[type=email],input[type=tel],.inputField-customizable{width:100%;padding:10px 12px;font:inherit;border:1px solid #a9b2c0;border-radius:6px;background:#fff}
input:focus,.inputField-customizable:focus{outline:3px solid #9cc3ff;outline-offset:1px;border-color:#2f6fde}
button,.submitButton-customizable{width:100%;margin-top:20px;padding:11px;font:inherit;font-weight:600;color:#fff;background:#2f6fde;border:0;border-radius:6px;cursor:pointer}
button:hover,.submitButton-customizable:hover{background:#2459b5}
.errorMessage-customizable{background:#fdecec;color:#8a1f1f;border:1px solid #f2b8b8;border-radius:6px;padding:10px 12px;margin:0 0 12px}
.textDescription-customizable{color:#4a5566;margin:0 0 8px}
.redirect-customizable{margin-top:18px;text-align:center;font-size:.95rem}
a{color:#2459b5}
.link-button{display:inline;width:auto;margin:0;padding:0;background:none;color:#2459b5;font-weight:400;text-decoration:underline}
.link-button:hover{background:none;color:#1a4288}
fieldset{border:0;padding:0;margin:8px 0 0}
.secret code{font-size:1.1rem;letter-spacing:.05em;word-break:break-all}
.choice{display:flex;gap:8px;align-items:center;margin:8px 0;font-weight:400}
@media (max-width:440px){main{padding:22px 18px}.background-customizable{padding:0}main{border-radius:0;box-shadow:none;min-height:100vh}}
"#;

/// What the pool or client set with SetUICustomization.
#[derive(Default, Clone)]
pub struct Customization {
    pub css: String,
    pub logo_url: String,
    /// The pool lets people sign themselves up (not `AllowAdminCreateUserOnly`).
    pub self_sign_up: bool,
    /// The app client lets users sign in with the pool's own user names (`COGNITO`).
    pub pool_sign_in: bool,
    /// The identity providers the app client lets users sign in with, besides the pool.
    pub providers: Vec<String>,
}

/// A whole page around `body`.
pub fn layout(title: &str, custom: &Customization, body: &str) -> String {
    let logo = if custom.logo_url.is_empty() {
        String::new()
    } else {
        format!(
            r#"<div class="banner-customizable"><img class="logo-customizable" src="{}" alt=""></div>"#,
            escape(&custom.logo_url)
        )
    };
    // The pool's CSS cannot close the style element: it is stored as CSS and `<` has
    // no place in the allowed classes' rules.
    let css = custom.css.replace('<', "");
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>{title}</title>
<style>{BASE_CSS}</style>
<style>{css}</style>
</head>
<body>
<div class="background-customizable">
<main>
{logo}
{body}
</main>
</div>
</body>
</html>
"#,
        title = escape(title),
    )
}

/// Hidden inputs for the authorization request and the CSRF token.
pub fn hidden_fields(params: &[(&str, &str)], csrf: &str) -> String {
    let mut out = String::new();
    for (name, value) in params {
        if !value.is_empty() {
            let _ = write!(
                out,
                r#"<input type="hidden" name="{}" value="{}">"#,
                escape(name),
                escape(value)
            );
        }
    }
    let _ = write!(
        out,
        r#"<input type="hidden" name="_csrf" value="{}">"#,
        escape(csrf)
    );
    out
}

pub fn error_box(error: &str) -> String {
    if error.is_empty() {
        String::new()
    } else {
        format!(
            r#"<p class="errorMessage-customizable" role="alert" id="error">{}</p>"#,
            escape(error)
        )
    }
}

/// A form posting to `action` with the given fields and one submit button.
pub struct Form<'a> {
    pub heading: &'a str,
    pub intro: &'a str,
    pub action: &'a str,
    pub error: &'a str,
    pub hidden: String,
    pub fields: String,
    pub submit: &'a str,
    pub footer: String,
}

impl Form<'_> {
    pub fn render(&self) -> String {
        let intro = if self.intro.is_empty() {
            String::new()
        } else {
            format!(
                r#"<p class="textDescription-customizable">{}</p>"#,
                escape(self.intro)
            )
        };
        format!(
            r#"<h1>{heading}</h1>
{intro}{error}<form method="post" action="{action}" novalidate>
{hidden}
{fields}
<button type="submit" class="submitButton-customizable">{submit}</button>
</form>
{footer}"#,
            heading = escape(self.heading),
            error = error_box(self.error),
            action = escape(self.action),
            hidden = self.hidden,
            fields = self.fields,
            submit = escape(self.submit),
            footer = self.footer,
        )
    }
}

/// A labelled input.
pub fn input(name: &str, label: &str, kind: &str, value: &str, autocomplete: &str) -> String {
    format!(
        r#"<label class="label-customizable" for="{name}">{label}</label>
<input class="inputField-customizable" id="{name}" name="{name}" type="{kind}" value="{value}" autocomplete="{autocomplete}" required>"#,
        name = escape(name),
        label = escape(label),
        kind = escape(kind),
        value = escape(value),
        autocomplete = escape(autocomplete),
    )
}

/// A page that only says what went wrong (nothing can be redirected).
pub fn error_page(custom: &Customization, message: &str) -> String {
    layout(
        "Error",
        custom,
        &format!(
            r#"<h1>Something went wrong</h1>{}<p class="textDescription-customizable">Return to the application and try again.</p>"#,
            error_box(message)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_escaped() {
        assert_eq!(
            escape(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        let html = hidden_fields(&[("state", "\"><script>x</script>")], "t");
        assert!(!html.contains("<script>"));
        assert!(html.contains("&quot;&gt;&lt;script&gt;"));
    }

    #[test]
    fn pool_css_cannot_close_the_style_element() {
        let custom = Customization {
            css: "</style><script>alert(1)</script>".into(),
            ..Default::default()
        };
        let page = layout("t", &custom, "");
        assert!(!page.contains("<script>"));
        assert_eq!(page.matches("</style>").count(), 2);
    }

    #[test]
    fn empty_hidden_values_are_left_out() {
        let html = hidden_fields(&[("nonce", ""), ("state", "s")], "c");
        assert!(!html.contains("nonce"));
        assert!(html.contains(r#"name="state" value="s""#));
        assert!(html.contains(r#"name="_csrf" value="c""#));
    }
}
