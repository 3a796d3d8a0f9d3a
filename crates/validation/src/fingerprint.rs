//! Text fingerprints for the duplicate rules (`duplicate-previous-year`, `duplicate-peer`).
//!
//! What is compared is the narrative a writer composes (parts 一 总体情况 and 五 存在的主要问题及改进情况),
//! with every digit, the agency's name, whitespace and punctuation removed: a report "copied from last
//! year with the year and the figures changed" (`format-2021.md` §5 #3) then reads as identical.
//!
//! Each text becomes the set of its character 4-grams (shingles), hashed to 64 bits with a hash that
//! is fixed here (FNV-1a + a SplitMix64 finaliser) because fingerprints are stored in the database and
//! must compare equal across builds and machines (the std hasher promises neither). Two summaries are
//! kept:
//! - a 64-bit **simhash** of the shingles: one integer per row, compared by Hamming distance as a cheap
//!   prefilter over all reports of a year;
//! - a **bottom-k sketch** (the `SKETCH_K` smallest shingle hashes): from two sketches the Jaccard
//!   similarity of the full shingle sets is estimated (Broder 1997); exact when a text has fewer than
//!   `SKETCH_K` distinct shingles. The decision ("near-identical") is a Jaccard threshold.

/// Shingle length in characters. Four Chinese characters is about two words: short enough that a
/// rephrased sentence changes its shingles, long enough that shared boilerplate vocabulary alone does
/// not make two texts similar.
pub const SHINGLE: usize = 4;
/// Size of the bottom-k sketch. 256 gives a Jaccard estimate with a standard error of about 0.02 near
/// 0.9, enough to separate copies (≥ 0.97 measured) from independently written reports (≤ 0.6).
pub const SKETCH_K: usize = 256;

/// Marks a byte that is not a hex digit in [`HEX_VALUE`].
const NOT_HEX: u8 = 0x80;

/// The value of each byte as a hex digit, or [`NOT_HEX`].
const HEX_VALUE: [u8; 256] = {
    let mut t = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// The fingerprint of one report's narrative.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Fingerprint {
    pub simhash: u64,
    /// Distinct shingles in the text (the sketch holds at most `SKETCH_K` of them).
    pub shingles: u32,
    /// The smallest shingle hashes, ascending.
    pub sketch: Vec<u64>,
}

fn mix(mut z: u64) -> u64 {
    // SplitMix64 finaliser: spreads FNV's weak low bits over the whole word.
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn hash_chars(chars: &[char]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in chars {
        for b in u32::from(c).to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    mix(h)
}

/// Folds full-width ASCII forms (ＡＢＣ１２３) and the ideographic space to their half-width forms.
pub fn fold_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// The agency name as the cross-report rules compare it: trimmed, full-width folded, without inner
/// whitespace (titles are written `XX县 财政局` as often as `XX县财政局`).
pub fn normalize_agency(name: &str) -> String {
    name.chars()
        .map(fold_width)
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// The narrative reduced to what a writer chose: letters and ideographs only, no digits, without the
/// agency's name (each of `names`, width-folded).
pub fn normalize_text(text: &str, names: &[&str]) -> Vec<char> {
    let mut folded: String = text.chars().map(fold_width).collect();
    for name in names {
        let name = normalize_agency(name);
        if name.chars().count() >= 2 {
            folded = folded.replace(&name, "");
        }
    }
    folded.chars().filter(|&c| is_letter(c)).collect()
}

/// `c.is_alphanumeric() && !c.is_numeric()`, answered without the Unicode tables for ASCII and the
/// CJK Unified Ideographs block (every code point there is a letter, `Lo`): nearly every character
/// of a report, and the table lookups were a tenth of validation's time.
fn is_letter(c: char) -> bool {
    match c {
        'a'..='z' | 'A'..='Z' | '\u{4E00}'..='\u{9FFF}' => true,
        _ if c.is_ascii() => false,
        _ => c.is_alphanumeric() && !c.is_numeric(),
    }
}

impl Fingerprint {
    /// Fingerprint of an already normalised text.
    pub fn of_chars(chars: &[char]) -> Fingerprint {
        if chars.len() < SHINGLE {
            return Fingerprint::default();
        }
        let mut hashes: Vec<u64> = chars.windows(SHINGLE).map(hash_chars).collect();
        hashes.sort_unstable();
        hashes.dedup();
        // A simhash bit is set when more shingle hashes have it set than not. Counting the ones
        // (a branch-free loop the compiler vectorises) gives the same bits as adding ±1 per hash.
        let mut ones = [0u32; 64];
        for h in &hashes {
            for (bit, n) in ones.iter_mut().enumerate() {
                *n += u32::from(h >> bit & 1 == 1);
            }
        }
        let total = hashes.len() as u64;
        let simhash = ones
            .iter()
            .enumerate()
            .filter(|(_, n)| 2 * u64::from(**n) > total)
            .fold(0u64, |acc, (bit, _)| acc | 1 << bit);
        let shingles = u32::try_from(hashes.len()).unwrap_or(u32::MAX);
        hashes.truncate(SKETCH_K);
        Fingerprint {
            simhash,
            shingles,
            sketch: hashes,
        }
    }

    /// Fingerprint of raw narrative text, see [`normalize_text`].
    pub fn of_text(text: &str, names: &[&str]) -> Fingerprint {
        Fingerprint::of_chars(&normalize_text(text, names))
    }

    pub fn hamming(&self, other: &Fingerprint) -> u32 {
        (self.simhash ^ other.simhash).count_ones()
    }

    /// Estimated Jaccard similarity of the two shingle sets (bottom-k of the union; exact for small
    /// sets). 0 when either text is empty.
    pub fn jaccard(&self, other: &Fingerprint) -> f64 {
        self.jaccard_with(other.shingles, &other.sketch)
    }

    /// [`Fingerprint::jaccard`] against the shingle count and sketch of another fingerprint, which
    /// the caller may hold apart (the validator keeps sketches in a cache, not in its rows).
    pub fn jaccard_with(&self, other_shingles: u32, other_sketch: &[u64]) -> f64 {
        if self.sketch.is_empty() || other_sketch.is_empty() {
            return 0.0;
        }
        // Merge the two sorted sketches, taking the k smallest of the union and counting those that
        // are in both.
        let k = SKETCH_K.min(self.sketch.len().max(other_sketch.len()));
        let exact = (self.shingles as usize) <= SKETCH_K && (other_shingles as usize) <= SKETCH_K;
        let (mut i, mut j, mut union, mut both) = (0, 0, 0usize, 0usize);
        while (exact || union < k) && (i < self.sketch.len() || j < other_sketch.len()) {
            match (self.sketch.get(i), other_sketch.get(j)) {
                (Some(a), Some(b)) if a == b => {
                    both += 1;
                    i += 1;
                    j += 1;
                }
                (Some(a), Some(b)) if a < b => i += 1,
                (Some(_), Some(_)) => j += 1,
                (Some(_), None) => i += 1,
                (None, Some(_)) => j += 1,
                (None, None) => break,
            }
            union += 1;
        }
        if union == 0 {
            0.0
        } else {
            both as f64 / union as f64
        }
    }

    /// Estimated share of this text's shingles that the other text also has (containment, the
    /// "重复率" provinces deduct for: how much of this year's text was already in last year's),
    /// from the Jaccard estimate J and the two set sizes: |A∩B| = J·(|A|+|B|)/(1+J). 0 when either
    /// text is empty.
    pub fn containment_in(&self, other: &Fingerprint) -> f64 {
        if self.shingles == 0 || other.shingles == 0 {
            return 0.0;
        }
        let j = self.jaccard(other);
        let both = j * (f64::from(self.shingles) + f64::from(other.shingles)) / (1.0 + j);
        (both / f64::from(self.shingles)).min(1.0)
    }

    /// The stored form of the simhash (the `fingerprint` column): 16 hex digits.
    pub fn simhash_hex(&self) -> String {
        format!("{:016x}", self.simhash)
    }

    /// The stored form of the sketch (the `sketch` column): hex words joined without separator.
    pub fn sketch_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        // 4 KiB per stored report: written digit by digit rather than through `format!`, which
        // was a twentieth of validation's time.
        let mut s = Vec::with_capacity(self.sketch.len() * 16);
        for h in &self.sketch {
            for shift in (0..16).rev() {
                s.push(DIGITS[(h >> (shift * 4) & 0xf) as usize]);
            }
        }
        // Only ASCII digits were pushed.
        String::from_utf8(s).unwrap_or_default()
    }

    /// Rebuilds a fingerprint from its stored columns; `None` when they are corrupt.
    pub fn from_stored(simhash: &str, shingles: i64, sketch: &str) -> Option<Fingerprint> {
        Some(Fingerprint {
            simhash: u64::from_str_radix(simhash, 16).ok()?,
            shingles: u32::try_from(shingles).ok()?,
            sketch: Self::sketch_from_stored(sketch)?,
        })
    }

    /// Reads the stored form of a sketch ([`Fingerprint::sketch_hex`]); `None` when corrupt.
    pub fn sketch_from_stored(sketch: &str) -> Option<Vec<u64>> {
        if !sketch.len().is_multiple_of(16) {
            return None;
        }
        // A sketch not found in the validator's cache is decoded here, 4 KiB of hex for each peer
        // compared: one table lookup per digit, and one test per word instead of one per digit.
        let mut out = Vec::with_capacity(sketch.len() / 16);
        for word in sketch.as_bytes().chunks_exact(16) {
            let mut acc = 0u64;
            let mut bad = 0u8;
            for &d in word {
                let v = HEX_VALUE[usize::from(d)];
                bad |= v;
                acc = acc << 4 | u64::from(v & 0xf);
            }
            if bad & NOT_HEX != 0 {
                return None;
            }
            out.push(acc);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_after_removing_digits_and_name() {
        let a = Fingerprint::of_text(
            "清河县财政局2023年认真贯彻落实政府信息公开条例，主动公开信息120条，依申请公开办理及时规范。",
            &["清河县财政局"],
        );
        let b = Fingerprint::of_text(
            "洛水县财政局2024年认真贯彻落实政府信息公开条例，主动公开信息87条，依申请公开办理及时规范。",
            &["洛水县财政局"],
        );
        assert_eq!(a, b);
        assert!((a.jaccard(&b) - 1.0).abs() < 1e-9);
        assert_eq!(a.hamming(&b), 0);
    }

    #[test]
    fn different_texts_are_far_apart() {
        let a = Fingerprint::of_text("认真贯彻落实政府信息公开条例，依申请公开办理及时规范", &[]);
        let b = Fingerprint::of_text("加强平台建设，完善监督保障机制，推进重点领域信息公开", &[]);
        assert!(a.jaccard(&b) < 0.1);
    }

    #[test]
    fn containment_is_the_share_of_this_text_found_in_the_other() {
        let last = "政策解读质量仍需提升，个别单位政策解读内容简单形式单一。队伍建设还需进一步加强，人员配备不足兼职多流动性过快。";
        // This year: last year's text plus as much again that is new.
        let this = format!(
            "{last}信息发布审核机制有待完善，部分栏目更新不够及时，公开内容与群众需求还有差距。"
        );
        let a = Fingerprint::of_text(&this, &[]);
        let b = Fingerprint::of_text(last, &[]);
        let c = a.containment_in(&b);
        assert!((0.4..0.7).contains(&c), "{c}");
        // All of last year's text is in this year's: last year's is contained whole, while the
        // Jaccard (which a superset dilutes) stays at this year's share.
        assert!(b.containment_in(&a) > 0.95);
        assert!(a.jaccard(&b) < b.containment_in(&a));
        assert!((a.jaccard(&b) - c).abs() < 1e-9);
        assert_eq!(a.containment_in(&Fingerprint::default()), 0.0);
    }

    #[test]
    fn stored_form_round_trips() {
        let a = Fingerprint::of_text(&"政府信息公开工作年度报告".repeat(3), &[]);
        let back =
            Fingerprint::from_stored(&a.simhash_hex(), i64::from(a.shingles), &a.sketch_hex());
        assert_eq!(back, Some(a));
        assert_eq!(Fingerprint::from_stored("zz", 1, ""), None);
    }

    #[test]
    fn fast_paths_give_what_the_unicode_tables_give() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(
                is_letter(c),
                c.is_alphanumeric() && !c.is_numeric(),
                "{c:?}"
            );
        }
        // The simhash as first written (±1 per hash and bit), on texts of odd and even sizes.
        for text in [
            "政府信息公开",
            "认真贯彻落实政府信息公开条例，依申请公开办理及时规范。",
        ] {
            for n in 1..40 {
                let chars: Vec<char> = text.repeat(n).chars().skip(n % 7).collect();
                let fp = Fingerprint::of_chars(&chars);
                let mut hashes: Vec<u64> = chars.windows(SHINGLE).map(hash_chars).collect();
                hashes.sort_unstable();
                hashes.dedup();
                let mut weights = [0i32; 64];
                for h in &hashes {
                    for (bit, w) in weights.iter_mut().enumerate() {
                        *w += if h >> bit & 1 == 1 { 1 } else { -1 };
                    }
                }
                let expected = (0..64)
                    .filter(|&b| weights[b] > 0)
                    .fold(0u64, |acc, b| acc | 1 << b);
                assert_eq!(fp.simhash, expected);
            }
        }
    }

    #[test]
    fn stored_sketch_is_fixed_width_hex() {
        let fp = Fingerprint {
            simhash: 0,
            shingles: 3,
            sketch: vec![0, 0xabc, u64::MAX, 0x0123_4567_89ab_cdef],
        };
        let hex = fp.sketch_hex();
        let expected: String = fp.sketch.iter().map(|h| format!("{h:016x}")).collect();
        assert_eq!(hex, expected);
        assert_eq!(
            Fingerprint::sketch_from_stored(&hex),
            Some(fp.sketch.clone())
        );
        assert_eq!(
            Fingerprint::sketch_from_stored(&hex.to_uppercase()),
            Some(fp.sketch)
        );
        assert_eq!(Fingerprint::sketch_from_stored("000000000000000g"), None);
        assert_eq!(Fingerprint::sketch_from_stored("+00000000000000f"), None);
        assert_eq!(Fingerprint::sketch_from_stored("0123"), None);
        assert_eq!(Fingerprint::sketch_from_stored(""), Some(Vec::new()));
    }

    #[test]
    fn full_width_agency_names_fold() {
        assert_eq!(normalize_agency(" ＡＢ县 财政局\u{3000}"), "AB县财政局");
    }
}
