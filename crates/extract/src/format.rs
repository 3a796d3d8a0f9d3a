//! Which format a file is in, from its content (never its name), and why a format cannot be read.

use thiserror::Error;

/// The formats extraction reads, and what it recognises only to refuse clearly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Html,
    /// A zip container; [`crate::docx`] decides whether it is a Word document.
    Zip,
    Pdf,
    Unsupported(&'static str),
}

/// The formats an official may send, for the message of an unreadable file.
pub const ACCEPTED: &str = "文本（TXT）、网页（HTML）、Word（DOCX）、带文字层的 PDF";

/// Why a document in one of the non-text formats could not be read. The messages are shown to
/// officials; each names what to do where there is something to do.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("文件格式是{0}，无法读取；可读取的格式：{ACCEPTED}")]
    Unsupported(&'static str),
    #[error("{0}")]
    BrokenContainer(String),
    #[error("压缩包中的文件过多（{entries} 个，上限 {limit} 个），疑似恶意文件")]
    TooManyEntries { entries: usize, limit: usize },
    #[error("文档解压后超过上限（{limit} 字节），疑似压缩炸弹")]
    Inflated { limit: u64 },
    #[error("文档结构嵌套过深（超过 {limit} 层），疑似恶意文件")]
    TooDeep { limit: usize },
    #[error("文档处理超时，超过单个文档的时间上限")]
    Timeout,
    #[error("网页声明的编码为 {declared}，但内容不是有效的 {declared} 文本，也无法识别为其他编码")]
    LyingCharset { declared: String },
    #[error("PDF 没有文字层（扫描图像），请提供带文字的 PDF、Word 或网页版本")]
    NoTextLayer,
    #[error("PDF 页数过多（{pages} 页，上限 {limit} 页）")]
    TooManyPages { pages: usize, limit: usize },
    #[error("PDF 文件损坏，无法读取：{0}")]
    BrokenPdf(String),
    #[error("PDF 已加密，无法读取文字；请提供未加密的版本")]
    EncryptedPdf,
    #[error(
        "PDF 的数据流解压后超过上限（{limit} 字节，max_pdf_inflated_bytes），疑似压缩炸弹 / \
         the PDF's streams inflate beyond the limit ({limit} bytes, max_pdf_inflated_bytes): \
         a decompression bomb?"
    )]
    PdfInflated { limit: u64 },
}

/// Detects the format from the first bytes. HTML is recognised by its markup at the start of the
/// file (after a BOM and whitespace); a text report never starts with a tag.
pub fn detect(bytes: &[u8]) -> Format {
    let b = bytes;
    if b.starts_with(b"%PDF") || find(&b[..b.len().min(1024)], b"%PDF-").is_some() {
        return Format::Pdf;
    }
    if b.starts_with(b"PK\x03\x04") {
        return Format::Zip;
    }
    if b.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Format::Unsupported("旧版 Word/WPS 文档（.doc/.wps）");
    }
    if b.starts_with(b"\x89PNG")
        || b.starts_with(&[0xFF, 0xD8, 0xFF])
        || b.starts_with(b"GIF8")
        || b.starts_with(b"II*\0")
        || b.starts_with(b"MM\0*")
        || b.starts_with(b"BM")
        || (b.starts_with(b"RIFF") && b.get(8..12) == Some(b"WEBP"))
    {
        return Format::Unsupported("图片");
    }
    if b.starts_with(b"{\\rtf") {
        return Format::Unsupported("RTF 文档");
    }
    if b.starts_with(&[0x1F, 0x8B]) || b.starts_with(b"Rar!") || b.starts_with(b"7z\xBC\xAF") {
        return Format::Unsupported("压缩文件");
    }
    if looks_like_html(b) {
        return Format::Html;
    }
    Format::Text
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Markup at the start: `<!DOCTYPE html`, `<html`, `<head`, `<meta`, `<body`, `<div`, `<table`,
/// `<p>` … after an optional BOM (UTF-8 or UTF-16), an XML declaration, comments and whitespace.
fn looks_like_html(bytes: &[u8]) -> bool {
    // UTF-16 with a BOM: look at the ASCII bytes only (every other byte).
    let (head, step): (&[u8], usize) = if bytes.starts_with(&[0xFF, 0xFE]) {
        (bytes.get(2..).unwrap_or_default(), 2)
    } else if bytes.starts_with(&[0xFE, 0xFF]) {
        (bytes.get(3..).unwrap_or_default(), 2)
    } else if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        (bytes.get(3..).unwrap_or_default(), 1)
    } else {
        (bytes, 1)
    };
    let ascii: Vec<u8> = head
        .iter()
        .step_by(step)
        .take(2048)
        .map(u8::to_ascii_lowercase)
        .collect();
    let start = ascii.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else { return false };
    let s = &ascii[start..];
    if !s.starts_with(b"<") {
        return false;
    }
    const TAGS: [&[u8]; 12] = [
        b"<!doctype html",
        b"<html",
        b"<head",
        b"<meta",
        b"<body",
        b"<div",
        b"<table",
        b"<p>",
        b"<p ",
        b"<h1",
        b"<title",
        b"<section",
    ];
    TAGS.iter().any(|t| find(s, t).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_content() {
        assert_eq!(detect(b"%PDF-1.7\n..."), Format::Pdf);
        assert_eq!(detect(b"PK\x03\x04rest"), Format::Zip);
        assert_eq!(detect(b"  <!DOCTYPE html><html>"), Format::Html);
        assert_eq!(detect("\u{feff}<html><body>".as_bytes()), Format::Html);
        assert_eq!(
            detect(b"<?xml version=\"1.0\"?>\n<html xmlns=\"\">"),
            Format::Html
        );
        assert_eq!(detect("一、总体情况\n<p>不是网页".as_bytes()), Format::Text);
        assert!(matches!(
            detect(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0]),
            Format::Unsupported(_)
        ));
        assert!(matches!(
            detect(b"\x89PNG\r\n"),
            Format::Unsupported("图片")
        ));
        let mut u16 = vec![0xFF, 0xFE];
        for c in "<html><body>年报".encode_utf16() {
            u16.extend_from_slice(&c.to_le_bytes());
        }
        assert_eq!(detect(&u16), Format::Html);
    }

    #[test]
    fn unsupported_names_what_is_accepted() {
        let m = FormatError::Unsupported("图片").to_string();
        assert!(m.contains("图片") && m.contains("DOCX") && m.contains("PDF"));
    }
}
