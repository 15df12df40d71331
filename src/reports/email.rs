//! A rendered report and how it becomes a MIME message or a preview folder.
//!
//! Structure of every message: `multipart/mixed` [ `multipart/alternative`
//! [ `text/plain`, `multipart/related` [ `text/html`, inline PNG images
//! referenced as `cid:` ] ], attachments ]. The HTML uses inline CSS and
//! tables only, no scripts and no remote content, so it renders in plain
//! mail clients.

use std::path::Path;

use anyhow::Context as _;
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment as MimeAttachment, Mailbox, MultiPart, SinglePart};

use crate::config::email::EmailConfig;

/// A chart embedded in the HTML.
#[derive(Debug, Clone)]
pub struct InlineImage {
    /// Content-ID, referenced from the HTML as `cid:<cid>`.
    pub cid: String,
    pub file_name: String,
    pub png: Vec<u8>,
}

/// A file attached to the message.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A report ready to send or preview.
#[derive(Debug, Clone)]
pub struct Email {
    /// `dashboard` or `exceptions`.
    pub kind: String,
    /// Unique id (the outbox file name and the Message-ID's left part).
    pub id: String,
    pub subject: String,
    pub html: String,
    pub text: String,
    pub images: Vec<InlineImage>,
    pub attachments: Vec<Attachment>,
    /// Recipient groups (from `[email.groups]`).
    pub groups: Vec<String>,
}

/// The XLSX media type.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

impl Email {
    /// The Message-ID (without angle brackets) for a sender address.
    pub fn message_id(&self, from: &Mailbox) -> String {
        format!("{}@{}", self.id, from.email.domain())
    }

    /// The MIME message.
    pub fn to_message(&self, from: &Mailbox, to: &[Mailbox]) -> anyhow::Result<Message> {
        let mut related = MultiPart::related().singlepart(SinglePart::html(self.html.clone()));
        for img in &self.images {
            related = related.singlepart(
                MimeAttachment::new_inline_with_name(img.cid.clone(), img.file_name.clone()).body(
                    img.png.clone(),
                    ContentType::parse("image/png").expect("media type"),
                ),
            );
        }
        let alternative = MultiPart::alternative()
            .singlepart(SinglePart::plain(self.text.clone()))
            .multipart(related);
        let mut mixed = MultiPart::mixed().multipart(alternative);
        for a in &self.attachments {
            let ct = ContentType::parse(&a.content_type)
                .with_context(|| format!("bad media type {:?}", a.content_type))?;
            mixed = mixed
                .singlepart(MimeAttachment::new(a.file_name.clone()).body(a.bytes.clone(), ct));
        }
        let mut builder = Message::builder()
            .from(from.clone())
            .subject(self.subject.clone())
            .message_id(Some(format!("<{}>", self.message_id(from))))
            .date_now();
        for m in to {
            builder = builder.to(m.clone());
        }
        builder.multipart(mixed).context("cannot build the message")
    }

    /// Writes the report to `dir` for review, without sending anything:
    /// `message.html` (as sent, images as `cid:`), `preview.html` (images
    /// as files, for a browser), `message.txt`, `images/`, `attachments/`,
    /// `message.eml` (the whole MIME message) and `headers.txt`.
    pub fn write_preview(&self, dir: &Path, from: &Mailbox, to: &[Mailbox]) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir.join("images"))
            .with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::create_dir_all(dir.join("attachments"))?;
        let write = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
            std::fs::write(dir.join(name), bytes)
                .with_context(|| format!("cannot write {}", dir.join(name).display()))
        };
        write("message.html", self.html.as_bytes())?;
        let mut preview = self.html.clone();
        for img in &self.images {
            write(&format!("images/{}", img.file_name), &img.png)?;
            preview = preview.replace(
                &format!("cid:{}", img.cid),
                &format!("images/{}", img.file_name),
            );
        }
        write("preview.html", preview.as_bytes())?;
        write("message.txt", self.text.as_bytes())?;
        for a in &self.attachments {
            write(&format!("attachments/{}", a.file_name), &a.bytes)?;
        }
        let message = self.to_message(from, to)?;
        write("message.eml", &message.formatted())?;
        let recipients: Vec<String> = to.iter().map(|m| m.to_string()).collect();
        write(
            "headers.txt",
            format!(
                "Subject: {}\nFrom: {from}\nTo: {}\nGroups: {}\nMessage-ID: <{}>\n",
                self.subject,
                recipients.join(", "),
                self.groups.join(", "),
                self.message_id(from)
            )
            .as_bytes(),
        )?;
        Ok(())
    }
}

/// The addresses of some groups, de-duplicated, in order.
pub fn recipients(groups: &[String], config: &EmailConfig) -> anyhow::Result<Vec<Mailbox>> {
    let mut out: Vec<Mailbox> = Vec::new();
    for g in groups {
        let addresses = config
            .groups
            .get(g)
            .with_context(|| format!("{g:?} is not a group in [email.groups]"))?;
        for a in addresses {
            let m: Mailbox = a
                .parse()
                .with_context(|| format!("email.groups.{g}: {a:?} is not an email address"))?;
            if !out.iter().any(|o| o.email == m.email) {
                out.push(m);
            }
        }
    }
    Ok(out)
}

/// The configured sender.
pub fn sender(config: &EmailConfig) -> anyhow::Result<Mailbox> {
    config
        .from
        .parse()
        .with_context(|| format!("email.from: {:?} is not a mailbox", config.from))
}
