//! Bounded decompression of a PDF's streams, before the PDF library sees the file.
//!
//! lopdf (under pdf-extract) inflates a stream completely whenever it reads it — cross-reference
//! and object streams while loading, content streams, forms and fonts while drawing — with no cap on
//! the output. A stream of a few kilobytes whose filters are `[/FlateDecode /FlateDecode]` inflates
//! to gigabytes, so without a cap the sender of a PDF chooses how much memory and time a worker
//! spends on it. Every stream of the file is therefore decoded here first, through a chain of
//! streaming decoders that keeps nothing and stops as soon as the document's budget
//! ([`crate::Limits::max_pdf_inflated_bytes`], counted over every decoding stage of every stream) is
//! spent: constant memory, time bounded by the budget.
//!
//! The scan reads the raw bytes (each `stream` keyword and the dictionary before it) rather than
//! lopdf's objects, because lopdf decodes cross-reference and object streams while loading, before
//! any hook of ours could run. An encrypted PDF's streams are only readable after lopdf decrypted
//! them, so [`check_document`] checks those on the loaded document.

use crate::FormatError;
use std::io::Read;
use std::time::Instant;

/// What inflating the streams may cost.
pub struct InflateBudget {
    /// Bytes produced by all decoding stages of all streams together.
    pub max_bytes: u64,
    /// When the scan must stop (the document's deadline).
    pub deadline: Instant,
}

/// The decoders lopdf applies (others make lopdf give up on the stream, so nothing is inflated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Filter {
    Flate,
    Lzw,
    Ascii85,
}

impl Filter {
    fn from_name(name: &[u8]) -> Option<Filter> {
        match name {
            b"FlateDecode" => Some(Filter::Flate),
            b"LZWDecode" => Some(Filter::Lzw),
            b"ASCII85Decode" => Some(Filter::Ascii85),
            _ => None,
        }
    }
}

/// Checks every stream of the raw file against the budget. `Ok` means lopdf may decode them all.
pub fn check_raw(bytes: &[u8], budget: &InflateBudget) -> Result<(), FormatError> {
    let mut used = 0u64;
    let mut pos = 0usize;
    // Where the dictionary of the next stream may start: never before the end of the previous
    // stream, so that every byte is looked at a bounded number of times.
    let mut floor = 0usize;
    while let Some(k) = find(bytes.get(pos..).unwrap_or_default(), b"stream") {
        let at = pos + k;
        let after = at + b"stream".len();
        pos = after;
        if at > 0 && bytes.get(at - 1).is_some_and(u8::is_ascii_alphanumeric) {
            continue; // `endstream`, or a word that merely ends so
        }
        let Some(data_start) = data_start(bytes, after) else {
            continue;
        };
        if Instant::now() > budget.deadline {
            return Err(FormatError::Timeout);
        }
        let dict = dict_before(bytes, floor, at);
        let filters = match filters_in(dict) {
            Some(f) => f,
            // A /Filter this scan cannot read (an indirect reference): assume the common case
            // when the data looks like zlib, so that it is counted rather than trusted.
            None if looks_like_zlib(bytes.get(data_start..).unwrap_or_default()) => {
                vec![Filter::Flate]
            }
            None => Vec::new(),
        };
        let data = bytes.get(data_start..).unwrap_or_default();
        used = inflate_count(data, &filters, used, budget.max_bytes)?;
        // Go on after this stream's data (at the first `endstream`, which is never after the real
        // end, so no stream is skipped).
        let end = find(data, b"endstream").map_or(bytes.len(), |e| data_start + e + 9);
        pos = pos.max(end);
        floor = pos;
    }
    Ok(())
}

/// Checks the streams of a loaded document (used for encrypted PDFs, whose raw streams are
/// ciphertext: lopdf decrypts them while loading and inflates them only later).
pub fn check_document(
    doc: &pdf_extract::Document,
    budget: &InflateBudget,
) -> Result<(), FormatError> {
    let mut used = 0u64;
    for obj in doc.objects.values() {
        let Ok(stream) = obj.as_stream() else {
            continue;
        };
        if Instant::now() > budget.deadline {
            return Err(FormatError::Timeout);
        }
        let Ok(names) = stream.filters() else {
            continue;
        };
        let filters: Vec<Filter> = names.iter().map_while(|n| Filter::from_name(n)).collect();
        used = inflate_count(&stream.content, &filters, used, budget.max_bytes)?;
    }
    Ok(())
}

/// Where a stream's data starts: after `stream`, optional blanks and one end of line (lopdf's
/// grammar); `None` if no end of line follows (not a stream to lopdf either).
fn data_start(bytes: &[u8], mut i: usize) -> Option<usize> {
    while matches!(bytes.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    match (bytes.get(i), bytes.get(i + 1)) {
        (Some(b'\r'), Some(b'\n')) => Some(i + 2),
        (Some(b'\r' | b'\n'), _) => Some(i + 1),
        _ => None,
    }
}

/// The text of the dictionary before a `stream` keyword at `at`: from the last `obj` keyword after
/// `floor` (or `floor` itself).
fn dict_before(bytes: &[u8], floor: usize, at: usize) -> &[u8] {
    let region = bytes.get(floor..at).unwrap_or_default();
    let start = rfind(region, b"obj").map_or(0, |k| k + 3);
    region.get(start..).unwrap_or_default()
}

/// The filters named in a dictionary's text, in decoding order, up to the first one lopdf does not
/// decode (lopdf gives the stream up there). `Some(vec![])` when there is no /Filter; `None` when
/// its value is not a name or an array of names.
fn filters_in(dict: &[u8]) -> Option<Vec<Filter>> {
    let Some(k) = find(dict, b"/Filter") else {
        return Some(Vec::new());
    };
    let mut rest = dict.get(k + b"/Filter".len()..).unwrap_or_default();
    while let [c, tail @ ..] = rest
        && c.is_ascii_whitespace()
    {
        rest = tail;
    }
    let names: Vec<&[u8]> = match rest.first() {
        Some(b'/') => vec![name_at(rest)],
        Some(b'[') => {
            let end = rest.iter().position(|&c| c == b']')?;
            let inner = rest.get(1..end).unwrap_or_default();
            let mut names = Vec::new();
            let mut i = 0;
            while let Some(off) = inner
                .get(i..)
                .and_then(|s| s.iter().position(|&c| c == b'/'))
            {
                let name = name_at(inner.get(i + off..).unwrap_or_default());
                names.push(name);
                i += off + 1 + name.len();
            }
            names
        }
        _ => return None,
    };
    Some(names.into_iter().map_while(Filter::from_name).collect())
}

/// The name at `s` (which starts with `/`), without the slash.
fn name_at(s: &[u8]) -> &[u8] {
    let body = s.get(1..).unwrap_or_default();
    let len = body
        .iter()
        .position(|&c| c.is_ascii_whitespace() || b"/[]<>()%".contains(&c))
        .unwrap_or(body.len());
    body.get(..len).unwrap_or_default()
}

/// A zlib header: deflate method and a valid check value.
fn looks_like_zlib(data: &[u8]) -> bool {
    match data {
        [cmf, flg, ..] => cmf & 0x0F == 8 && (u16::from(*cmf) * 256 + u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

/// Decodes `data` through `filters`, counting every stage's output on top of `used`; the new total,
/// or [`FormatError::PdfInflated`] once it passes `max`. Decoding errors end the stream quietly
/// (lopdf keeps what it decoded up to the error, and that much is counted).
fn inflate_count(data: &[u8], filters: &[Filter], used: u64, max: u64) -> Result<u64, FormatError> {
    if filters.is_empty() {
        return Ok(used);
    }
    let counter = std::rc::Rc::new(std::cell::Cell::new(used));
    let mut reader: Box<dyn Read + '_> = Box::new(data);
    for f in filters {
        let stage: Box<dyn Read + '_> = match f {
            Filter::Flate => flate_stage(reader),
            Filter::Lzw => Box::new(LzwReader::new(reader)),
            Filter::Ascii85 => Box::new(Ascii85Reader::new(reader)),
        };
        reader = Box::new(Counted {
            inner: stage,
            counter: counter.clone(),
            max,
        });
    }
    let mut sink = [0u8; 64 * 1024];
    loop {
        match reader.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if counter.get() > max {
            break;
        }
    }
    let total = counter.get();
    if total > max {
        return Err(FormatError::PdfInflated { limit: max });
    }
    Ok(total)
}

/// A FlateDecode stage as lopdf reads it: zlib; when the zlib header is not valid (lopdf's fallback
/// after a zlib error with nothing decoded), raw deflate after the two header bytes.
fn flate_stage<'a>(mut input: Box<dyn Read + 'a>) -> Box<dyn Read + 'a> {
    let mut head = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match input.read(head.get_mut(got..).unwrap_or_default()) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    let head = head.get(..got).unwrap_or_default().to_vec();
    if looks_like_zlib(&head) {
        Box::new(flate2::read::ZlibDecoder::new(
            std::io::Cursor::new(head).chain(input),
        ))
    } else {
        Box::new(flate2::read::DeflateDecoder::new(input))
    }
}

/// Counts what a stage produces into the document's shared total and stops it past `max`.
struct Counted<'a> {
    inner: Box<dyn Read + 'a>,
    counter: std::rc::Rc<std::cell::Cell<u64>>,
    max: u64,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.counter.get() > self.max {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        self.counter
            .set(self.counter.get().saturating_add(n as u64));
        Ok(n)
    }
}

/// LZWDecode (early change, MSB first, as lopdf decodes it), streaming.
struct LzwReader<'a> {
    inner: Box<dyn Read + 'a>,
    decoder: weezl::decode::Decoder,
    buf: Vec<u8>,
    at: usize,
    done: bool,
}

impl<'a> LzwReader<'a> {
    fn new(inner: Box<dyn Read + 'a>) -> LzwReader<'a> {
        LzwReader {
            inner,
            decoder: weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8),
            buf: Vec::new(),
            at: 0,
            done: false,
        }
    }
}

impl Read for LzwReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while !self.done && !out.is_empty() {
            if self.at >= self.buf.len() {
                self.buf.resize(16 * 1024, 0);
                let n = self.inner.read(&mut self.buf)?;
                self.buf.truncate(n);
                self.at = 0;
                if n == 0 {
                    self.done = true;
                    return Ok(0);
                }
            }
            let r = self
                .decoder
                .decode_bytes(self.buf.get(self.at..).unwrap_or_default(), out);
            self.at += r.consumed_in;
            match r.status {
                Ok(weezl::LzwStatus::Ok) => {}
                _ => self.done = true,
            }
            if r.consumed_out > 0 {
                return Ok(r.consumed_out);
            }
        }
        Ok(0)
    }
}

/// ASCII85Decode, streaming: whitespace skipped, `z` is four zero bytes, `~` ends the data.
struct Ascii85Reader<'a> {
    inner: Box<dyn Read + 'a>,
    group: [u8; 5],
    len: usize,
    out: Vec<u8>,
    at: usize,
    done: bool,
}

impl<'a> Ascii85Reader<'a> {
    fn new(inner: Box<dyn Read + 'a>) -> Ascii85Reader<'a> {
        Ascii85Reader {
            inner,
            group: [0; 5],
            len: 0,
            out: Vec::new(),
            at: 0,
            done: false,
        }
    }

    fn flush_group(&mut self) {
        if self.len < 2 {
            return;
        }
        let mut v: u64 = 0;
        for i in 0..5 {
            let d = if i < self.len { self.group[i] } else { 84 };
            v = v * 85 + u64::from(d);
        }
        // Five base-85 digits hold at most 85^5 - 1 < 2^33; lopdf keeps the low 32 bits too.
        let bytes = (v & 0xFFFF_FFFF).to_be_bytes();
        let bytes = bytes.get(4..).unwrap_or_default();
        self.out
            .extend_from_slice(bytes.get(..self.len - 1).unwrap_or_default());
        self.len = 0;
    }
}

impl Read for Ascii85Reader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        while self.at >= self.out.len() && !self.done {
            self.out.clear();
            self.at = 0;
            let n = self.inner.read(&mut chunk)?;
            if n == 0 {
                self.flush_group();
                self.done = true;
                break;
            }
            for &c in chunk.get(..n).unwrap_or_default() {
                match c {
                    b'~' => {
                        self.flush_group();
                        self.done = true;
                        break;
                    }
                    b'z' if self.len == 0 => self.out.extend_from_slice(&[0; 4]),
                    b'!'..=b'u' => {
                        if let Some(slot) = self.group.get_mut(self.len) {
                            *slot = c - b'!';
                        }
                        self.len += 1;
                        if self.len == 5 {
                            self.flush_group();
                        }
                    }
                    c if c.is_ascii_whitespace() => {}
                    // lopdf refuses the stream: nothing more is decoded.
                    _ => {
                        self.done = true;
                        break;
                    }
                }
            }
        }
        let avail = self.out.get(self.at..).unwrap_or_default();
        let n = avail.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), avail.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.at += n;
        Ok(n)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(data).unwrap();
        z.finish().unwrap()
    }

    #[test]
    fn filters_are_read_from_the_dictionary_text() {
        assert_eq!(filters_in(b"<< /Length 5 >>"), Some(vec![]));
        assert_eq!(
            filters_in(b"<< /Filter /FlateDecode /Length 5 >>"),
            Some(vec![Filter::Flate])
        );
        assert_eq!(
            filters_in(b"<</Filter[/FlateDecode/ASCII85Decode /LZWDecode]>>"),
            Some(vec![Filter::Flate, Filter::Ascii85, Filter::Lzw])
        );
        // lopdf stops at a filter it does not decode.
        assert_eq!(
            filters_in(b"<< /Filter [/FlateDecode /DCTDecode /FlateDecode] >>"),
            Some(vec![Filter::Flate])
        );
        assert_eq!(filters_in(b"<< /Filter 7 0 R >>"), None);
    }

    #[test]
    fn every_stage_counts_and_the_budget_stops_decoding() {
        let once = zlib(&vec![0u8; 1 << 20]);
        let twice = zlib(&once);
        let used = inflate_count(&twice, &[Filter::Flate, Filter::Flate], 0, u64::MAX).unwrap();
        assert_eq!(used, (1 << 20) + once.len() as u64);
        assert!(matches!(
            inflate_count(&twice, &[Filter::Flate, Filter::Flate], 0, 1000),
            Err(FormatError::PdfInflated { limit: 1000 })
        ));
        // ASCII85: "z" is four zero bytes; "87cUR" is "Hell".
        assert_eq!(
            inflate_count(b"zz87cURD]~>", &[Filter::Ascii85], 0, 100).unwrap(),
            8 + 4 + 1
        );
        // Raw deflate behind a broken zlib header is decoded like lopdf's fallback does.
        let raw = {
            let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
            z.write_all(&[7u8; 5000]).unwrap();
            [&b"xx"[..], &z.finish().unwrap()].concat()
        };
        assert_eq!(
            inflate_count(&raw, &[Filter::Flate], 0, u64::MAX).unwrap(),
            5000
        );
    }

    #[test]
    fn lzw_is_counted() {
        let data = vec![b'a'; 100_000];
        let mut enc = weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8);
        let packed = enc.encode(&data).unwrap();
        assert_eq!(
            inflate_count(&packed, &[Filter::Lzw], 0, u64::MAX).unwrap(),
            100_000
        );
    }
}
