//! robots.txt: which paths the crawler may fetch on a host, and the delay the host asks for.
//!
//! The groups naming our product token (`nianbao`, matched case-insensitively inside the
//! configured user agent) apply if there are any, else the `*` groups. The longest matching
//! `Allow`/`Disallow` pattern decides, `Allow` on a tie (RFC 9309); `*` matches any run of
//! characters and a final `$` anchors the pattern at the end of the path. An empty `Disallow`
//! allows everything. `Crawl-delay` (seconds) is honoured as a lower bound on the delay between
//! two requests to the host.

use std::time::Duration;

/// The rules that apply to this crawler on one host.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Robots {
    /// `(allow, pattern)`.
    rules: Vec<(bool, String)>,
    crawl_delay: Option<Duration>,
}

/// The longest Crawl-delay believed: a host asking for more would stall its agency's whole pass.
const MAX_CRAWL_DELAY: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Group {
    agents: Vec<String>,
    rules: Vec<(bool, String)>,
    crawl_delay: Option<Duration>,
}

impl Robots {
    /// No robots.txt (404 and other client errors): everything may be fetched.
    pub fn allow_all() -> Robots {
        Robots::default()
    }

    /// robots.txt could not be read (server error, timeout): nothing is fetched from the host in
    /// this pass, as RFC 9309 §2.3.1.4 asks.
    pub fn deny_all() -> Robots {
        Robots {
            rules: vec![(false, "/".to_string())],
            crawl_delay: None,
        }
    }

    /// The rules of `text` for a crawler whose user agent is `user_agent`.
    pub fn parse(text: &str, user_agent: &str) -> Robots {
        let ua = user_agent.to_ascii_lowercase();
        let mut groups: Vec<Group> = Vec::new();
        let mut current = Group::default();
        // A user-agent line after a rule starts a new group; consecutive ones share one.
        let mut in_agents = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default().trim();
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            match key.as_str() {
                "user-agent" => {
                    if !in_agents && !current.agents.is_empty() {
                        groups.push(std::mem::take(&mut current));
                    }
                    in_agents = true;
                    current.agents.push(value.to_ascii_lowercase());
                }
                "allow" | "disallow" => {
                    in_agents = false;
                    if current.agents.is_empty() || value.is_empty() {
                        continue;
                    }
                    current.rules.push((key == "allow", value.to_string()));
                }
                "crawl-delay" => {
                    in_agents = false;
                    if let Ok(secs) = value.parse::<f64>()
                        && secs.is_finite()
                        && secs >= 0.0
                    {
                        current.crawl_delay = Some(Duration::from_secs_f64(
                            secs.min(MAX_CRAWL_DELAY.as_secs_f64()),
                        ));
                    }
                }
                _ => {}
            }
        }
        if !current.agents.is_empty() {
            groups.push(current);
        }
        let ours = |g: &Group| g.agents.iter().any(|a| a != "*" && ua.contains(a.as_str()));
        let chosen: Vec<&Group> = if groups.iter().any(ours) {
            groups.iter().filter(|g| ours(g)).collect()
        } else {
            groups
                .iter()
                .filter(|g| g.agents.iter().any(|a| a == "*"))
                .collect()
        };
        Robots {
            rules: chosen.iter().flat_map(|g| g.rules.clone()).collect(),
            crawl_delay: chosen.iter().filter_map(|g| g.crawl_delay).max(),
        }
    }

    /// Whether `path` (the URL's path and query, starting with `/`) may be fetched.
    pub fn allowed(&self, path: &str) -> bool {
        let mut best: Option<(usize, bool)> = None;
        for (allow, pattern) in &self.rules {
            if matches(pattern, path) {
                let len = pattern.len();
                best = match best {
                    Some((l, a)) if l > len || (l == len && a) => Some((l, a)),
                    _ => Some((len, *allow)),
                };
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }

    /// The host's `Crawl-delay`, if it gave one (at most a minute).
    pub fn crawl_delay(&self) -> Option<Duration> {
        self.crawl_delay
    }
}

/// Whether `pattern` matches `path` from its start: `*` is any run of characters, a final `$`
/// anchors the end.
fn matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let parts: Vec<&str> = pattern.split('*').collect();
    let Some((first, rest)) = parts.split_first() else {
        return true;
    };
    let Some(mut tail) = path.strip_prefix(first) else {
        return false;
    };
    if rest.is_empty() {
        return !anchored || tail.is_empty();
    }
    for (i, part) in rest.iter().enumerate() {
        if anchored && i + 1 == rest.len() {
            return tail.ends_with(part);
        }
        match tail.find(part) {
            Some(at) => tail = &tail[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const UA: &str = "nianbao-crawler/0.1 (+https://example.gov.cn/nianbao)";

    #[test]
    fn longest_match_wins_and_allow_breaks_ties() {
        let r = Robots::parse(
            "User-agent: *\nDisallow: /private/\nAllow: /private/ndbg/\nDisallow: /*.wps$\n",
            UA,
        );
        assert!(r.allowed("/xxgk/ndbg/index.html"));
        assert!(!r.allowed("/private/a.html"));
        assert!(r.allowed("/private/ndbg/2024.html"));
        assert!(!r.allowed("/files/2024.wps"));
        assert!(r.allowed("/files/2024.wps?x=1"));
        let tie = Robots::parse("User-agent: *\nDisallow: /a\nAllow: /a\n", UA);
        assert!(tie.allowed("/a/b"));
    }

    #[test]
    fn our_own_group_replaces_the_star_group() {
        let text = "# comment\nUser-agent: Baiduspider\nUser-agent: NIANBAO\nDisallow: /secret\n\n\
                    User-agent: *\nDisallow: /\nCrawl-delay: 5\n";
        let r = Robots::parse(text, UA);
        assert!(r.allowed("/xxgk/"));
        assert!(!r.allowed("/secret/x"));
        assert_eq!(r.crawl_delay(), None);
        let other = Robots::parse(text, "SomeBot/1.0");
        assert!(!other.allowed("/xxgk/"));
        assert_eq!(other.crawl_delay(), Some(Duration::from_secs(5)));
    }

    #[test]
    fn empty_disallow_garbage_and_huge_delays() {
        let r = Robots::parse(
            "User-agent: *\nDisallow:\nCrawl-delay: 99999\nnonsense line\nSitemap: /s.xml\n",
            UA,
        );
        assert!(r.allowed("/anything"));
        assert_eq!(r.crawl_delay(), Some(MAX_CRAWL_DELAY));
        assert!(Robots::parse("", UA).allowed("/"));
        // Rules before any user-agent line belong to no group.
        assert!(Robots::parse("Disallow: /\n", UA).allowed("/x"));
        assert!(!Robots::deny_all().allowed("/robots-free"));
        assert!(Robots::allow_all().allowed("/"));
    }

    #[test]
    fn wildcards() {
        assert!(matches("/*/ndbg/", "/szf/ndbg/x"));
        assert!(!matches("/*/ndbg/", "/szf/x"));
        assert!(matches("/a*b*c$", "/a-b-c"));
        assert!(!matches("/a*b*c$", "/a-b-c-d"));
        assert!(matches("/index.html$", "/index.html"));
        assert!(!matches("/index.html$", "/index.html?p=1"));
        assert!(matches("*", "/anything"));
    }
}
