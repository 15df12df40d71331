//! Names from outside, made safe: [`component`] turns a value from data or
//! config (a carrier, a job name) into one path component that cannot leave
//! its folder, and [`Escaped`] shows a name from outside in a text log
//! without letting it forge lines or terminal colours. [`join`] and
//! [`file_name`] build and split the `/`-separated paths inside a source.
//!
//! A leaf module: it imports nothing from the project. It does not decide
//! which folder a name goes in; callers join the result to a folder they own.

use std::fmt;

use sha2::{Digest, Sha256};

/// The longest component [`component`] returns, in bytes (well under the
/// 255 of common file systems, leaving room for a prefix and an extension).
pub const MAX_COMPONENT: usize = 80;

/// One safe path component for `name`: keeps `[A-Za-z0-9._-]`, maps every
/// other character to `_`, is never empty, `.`, `..` or hidden (no leading
/// `.`), and is at most [`MAX_COMPONENT`] bytes. When it had to change
/// anything it ends in `-` and 8 hex digits of the SHA-256 of `name`, so two
/// different names (`a/b` and `a_b`) never give the same component.
pub fn component(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with('.') {
        // Hidden names, `.` and `..`.
        out.replace_range(0..1, "_");
    }
    if out.is_empty() {
        out.push('_');
    }
    if out == name && out.len() <= MAX_COMPONENT {
        return out;
    }
    let hash = hex::encode(&Sha256::digest(name.as_bytes())[..4]);
    // The kept part is ASCII, so any byte index is a char boundary.
    out.truncate(MAX_COMPONENT - hash.len() - 1);
    format!("{out}-{hash}")
}

/// Why `path`, a folder or file path relative to a source or the data
/// folder (a job's `[output] path`, an inbox), cannot be used, if it cannot:
/// absolute (`/x`, `\\x`, `C:x`), with a `..` component, or with a
/// control character. `None` when it stays inside.
pub fn relative_problem(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    if path.starts_with(['/', '\\'])
        || (bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':')
    {
        return Some(format!(
            "\"{}\" is absolute; give a path relative to the source",
            Escaped(path)
        ));
    }
    if path.split(['/', '\\']).any(|c| c == "..") {
        return Some(format!(
            "\"{}\" has a \"..\" component; it must stay inside the source",
            Escaped(path)
        ));
    }
    if path.chars().any(char::is_control) {
        return Some(format!("\"{}\" has a control character", Escaped(path)));
    }
    None
}

/// Why `name` (a job name, which becomes a folder) is not one plain path
/// component, if it is not: empty, `.`/`..`, a `/` or `\\`, a control
/// character, or longer than [`MAX_COMPONENT`] bytes.
pub fn name_problem(name: &str) -> Option<String> {
    if name.trim().is_empty() {
        Some("must not be empty".into())
    } else if name == "." || name == ".." || name.contains(['/', '\\']) {
        Some(format!(
            "\"{}\" must be one folder name, without \"/\", \"\\\" or \"..\"",
            Escaped(name)
        ))
    } else if name.chars().any(char::is_control) {
        Some(format!("\"{}\" has a control character", Escaped(name)))
    } else if name.len() > MAX_COMPONENT {
        Some(format!(
            "is {} bytes long; at most {MAX_COMPONENT}",
            name.len()
        ))
    } else {
        None
    }
}

/// Shows a string from outside (a file name, a carrier value, a path) in a
/// text log: control characters (newlines, ESC of ANSI sequences, NUL) and
/// invisible format characters (bidi overrides, zero-width spaces) become
/// `\u{..}` escapes and a backslash becomes `\\`, so the line it lands in
/// cannot be split, recoloured or reordered. Printable text, non-ASCII
/// letters included, is shown as is.
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        for c in self.0.chars() {
            if c == '\\' {
                f.write_str("\\\\")?;
            } else if c.is_control() || is_format(c) {
                write!(f, "\\u{{{:x}}}", c as u32)?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Unicode format characters (category Cf) that change how a line looks
/// without showing: soft hyphen, zero-width and joiner characters, the bidi
/// marks, embeddings, overrides and isolates, word joiner, BOM.
fn is_format(c: char) -> bool {
    matches!(c, '\u{ad}' | '\u{61c}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

/// Joins source-relative path parts with `/`, ignoring empty parts.
pub fn join(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.trim_matches('/'))
        .filter(|p| !p.is_empty() && *p != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// The last component of a source path.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_and_split() {
        assert_eq!(join(&["inbox", "a.csv"]), "inbox/a.csv");
        assert_eq!(
            join(&["/inbox/", "", ".", "sub/", "a.csv"]),
            "inbox/sub/a.csv"
        );
        assert_eq!(file_name("inbox/sub/a.csv"), "a.csv");
        assert_eq!(file_name("a.csv"), "a.csv");
    }

    #[test]
    fn clean_names_are_kept() {
        for n in ["DHLX", "ups-ground", "a.b_c-1", "X.."] {
            assert_eq!(component(n), n);
        }
    }

    #[test]
    fn traversal_and_absolute_names_stay_one_component() {
        for n in [
            "..",
            ".",
            "",
            "../../../X",
            "/etc/passwd",
            "a/b",
            "a\\b",
            ".hidden",
            "C:\\x",
            "a\0b",
            "\u{1b}[31m",
        ] {
            let c = component(n);
            assert!(!c.is_empty() && c != "." && c != "..", "{n:?} -> {c:?}");
            assert!(!c.starts_with('.'), "{n:?} -> {c:?}");
            assert!(
                c.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-')),
                "{n:?} -> {c:?}"
            );
            assert_eq!(
                std::path::Path::new(&c).components().count(),
                1,
                "{n:?} -> {c:?}"
            );
            assert_ne!(c, n, "{n:?} changed, so it carries a hash");
            assert_eq!(c.rsplit('-').next().unwrap().len(), 8, "{n:?} -> {c:?}");
        }
    }

    #[test]
    fn two_names_never_collide_and_long_names_are_bounded() {
        assert_ne!(component("a/b"), component("a_b"));
        assert_ne!(component("a/b"), component("a:b"));
        assert_ne!(component(&"x".repeat(300)), component(&"x".repeat(301)));
        assert_eq!(component(&"x".repeat(300)).len(), MAX_COMPONENT);
        assert_eq!(component(&"é".repeat(300)).len(), MAX_COMPONENT);
        assert_eq!(component("a/b"), component("a/b"), "stable");
    }

    #[test]
    fn relative_paths_and_names_stay_inside() {
        for ok in ["runs/x", "inbox", "a/b.c/d", "a..b", "./x"] {
            assert_eq!(relative_problem(ok), None, "{ok}");
        }
        for bad in [
            "/etc",
            "\\\\srv\\x",
            "C:\\x",
            "..",
            "runs/../../x",
            "a\\..\\b",
            "a\nb",
        ] {
            assert!(relative_problem(bad).is_some(), "{bad}");
        }
        for ok in ["daily", "dhl intake", "a..b", "é"] {
            assert_eq!(name_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            " ",
            ".",
            "..",
            "../x",
            "a/b",
            "a\\b",
            "a\u{1b}b",
            &"x".repeat(81),
        ] {
            assert!(name_problem(bad).is_some(), "{bad:?}");
        }
        assert!(relative_problem("a\nb").unwrap().contains("a\\u{a}b"));
    }

    #[test]
    fn escaped_neutralises_newlines_ansi_and_bidi() {
        let s = "a\nINFO forged\u{1b}[31mred\r\t\u{202e}txt.exe\\é";
        let e = Escaped(s).to_string();
        assert_eq!(
            e,
            "a\\u{a}INFO forged\\u{1b}[31mred\\u{d}\\u{9}\\u{202e}txt.exe\\\\é"
        );
        assert!(!e.chars().any(|c| c.is_control()));
        assert_eq!(format!("{:?}", Escaped("a\nb")), "\"a\\u{a}b\"");
        assert_eq!(Escaped("plain-name.csv").to_string(), "plain-name.csv");
    }
}
