//! Problems with a file the daemon reads (policy, config, job, report job):
//! where each one is and why, reported all at once. Owns [`Problem`] and
//! [`Problems`]; it knows nothing of the files themselves.

use std::fmt;

/// One problem with a policy, config or job file: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file the problem is in.
    pub file: String,
    /// Dotted key path, e.g. `regime[2].from`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.key, self.message)
        }
    }
}

/// A list of problems; the error type of every loader that checks a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

impl Problems {
    /// The problems with every control character in keys and messages
    /// escaped (line breaks and tabs kept): keys and parser messages quote
    /// the file as written, and `check` prints them to a terminal.
    pub fn escaped(self) -> Problems {
        let clean = |text: String| {
            if text
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
            {
                text.split_inclusive(['\n', '\t'])
                    .map(|part| {
                        let (body, end) = part
                            .strip_suffix(['\n', '\t'])
                            .map_or((part, ""), |b| (b, &part[b.len()..]));
                        format!("{}{end}", crate::paths::Escaped(body))
                    })
                    .collect()
            } else {
                text
            }
        };
        Problems(
            self.0
                .into_iter()
                .map(|p| Problem {
                    file: p.file,
                    key: clean(p.key),
                    message: clean(p.message),
                })
                .collect(),
        )
    }
}
