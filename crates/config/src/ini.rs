//! The INI dialect of Python's `configparser.RawConfigParser` as Supervisor configures it
//! (`inline_comment_prefixes=(';', '#')`, `strict=False`, keys lower-cased, `[DEFAULT]`
//! inherited by every section, blank lines kept inside multi-line values).
//!
//! Each value remembers the file and line of its key so errors can point at them.

use crate::pyfmt::{py_isspace, py_repr, py_strip};
use std::collections::HashMap;
use std::sync::Arc;

/// One `key = value` as stored after reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The value, continuation lines joined with `\n`.
    pub value: String,
    /// The file the key line came from.
    pub file: Arc<str>,
    /// 1-based line number of the key line.
    pub line: usize,
}

/// An insertion-ordered key → entry map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entries {
    keys: Vec<String>,
    map: HashMap<String, Entry>,
}

impl Entries {
    /// Looks a key up.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.map.get(key)
    }
    fn get_mut(&mut self, key: &str) -> Option<&mut Entry> {
        self.map.get_mut(key)
    }
    /// Sets a key (keeps its first position).
    pub fn set(&mut self, key: &str, e: Entry) {
        if self.map.insert(key.to_string(), e).is_none() {
            self.keys.push(key.to_string());
        }
    }
    /// Keys in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|s| s.as_str())
    }
    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// A section: its own keys (not counting `[DEFAULT]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The name between the brackets, case preserved.
    pub name: String,
    /// Keys set in this section.
    pub entries: Entries,
}

/// Where a line of a config file is: the file (as named when reading it) and the 1-based
/// line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    /// The file.
    pub file: Arc<str>,
    /// The line.
    pub line: usize,
}

/// One `[name]` header line as written (every occurrence, repeats included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The name between the brackets (`DEFAULT` included).
    pub name: String,
    /// Where the header is.
    pub at: At,
}

/// A line the dialect accepts but that is very likely a mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Suspect {
    /// A line starting with `[` that is not a header (no closing `]`) and was read as a
    /// `key = value` of the section before it (`[program:web` is key `[program`).
    MissingBracket {
        /// Where the line is.
        at: At,
        /// The line as written, stripped.
        text: String,
        /// The section that received the key (`None` for `[DEFAULT]`).
        section: Option<String>,
        /// The key it became (lower-cased).
        key: String,
    },
    /// A complete `[header]` indented deeper than the key before it: read as a
    /// continuation line of that key's value, not as a section.
    IndentedHeader {
        /// Where the line is.
        at: At,
        /// The line as written, stripped.
        text: String,
        /// The section of the value it joined (`None` for `[DEFAULT]`).
        section: Option<String>,
        /// The key whose value it joined.
        key: String,
    },
    /// A key set a second time in a section (the later value is used).
    DuplicateKey {
        /// The section (`None` for `[DEFAULT]`).
        section: Option<String>,
        /// The key.
        key: String,
        /// Where it was set before.
        first: At,
        /// Where it is set again.
        again: At,
    },
}

/// A parse failure, with the reference's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniError {
    /// The file (as named when reading it).
    pub file: String,
    /// The first bad line.
    pub line: usize,
    /// `Source contains parsing errors: ...` or `File contains no section headers. ...`.
    pub message: String,
}

/// A whole parsed document (possibly several files read into it).
#[derive(Debug, Clone, Default)]
pub struct Ini {
    /// `[DEFAULT]` keys.
    pub defaults: Entries,
    sections: Vec<Section>,
    index: HashMap<String, usize>,
    /// Sections given keys by the latest `read_str`, and whether `[DEFAULT]` was.
    last_touched: (Vec<usize>, bool),
    /// Every header line read, in reading order.
    headers: Vec<Header>,
    /// Lines that are accepted but look like mistakes, in reading order.
    suspects: Vec<Suspect>,
}

const DEFAULT_SECTION: &str = "DEFAULT";

impl Ini {
    /// An empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// Section names in first-seen order (without `DEFAULT`).
    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().map(|s| s.name.as_str())
    }

    /// True when the section exists.
    pub fn has_section(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Every `[header]` line read so far (repeats included), in reading order.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// Lines read so far that the dialect accepts but that look like mistakes.
    pub fn suspects(&self) -> &[Suspect] {
        &self.suspects
    }

    /// A section by name.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.index.get(name).map(|&i| &self.sections[i])
    }

    /// A value with `[DEFAULT]` fallback; `None` if the section or the key is absent.
    pub fn get(&self, section: &str, key: &str) -> Option<&Entry> {
        let s = self.section(section)?;
        s.entries.get(key).or_else(|| self.defaults.get(key))
    }

    /// All option names of a section, own keys first then inherited defaults (like
    /// `RawConfigParser.options`).
    pub fn options(&self, section: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(s) = self.section(section) {
            out.extend(s.entries.keys().map(String::from));
            for k in self.defaults.keys() {
                if s.entries.get(k).is_none() {
                    out.push(k.to_string());
                }
            }
        }
        out
    }

    /// Sets a value in a section (used by the literal `%(here)s` replacement).
    pub fn set(&mut self, section: &str, key: &str, e: Entry) {
        if let Some(&i) = self.index.get(section) {
            self.sections[i].entries.set(key, e);
        }
    }

    /// Replaces the literal text `%(here)s` in every value of every section (inherited
    /// defaults included, which then become the section's own), as Supervisor does after
    /// reading each file when `[include]` is present.
    pub fn expand_here(&mut self, here: &str) {
        let all: Vec<usize> = (0..self.sections.len()).collect();
        self.expand_here_in(here, &all);
    }

    /// [`Ini::expand_here`] after reading one more file: only the sections that file
    /// touched can hold a new `%(here)s` (all of them when it set `[DEFAULT]` keys), so
    /// reading many included files stays linear.
    pub fn expand_here_last_read(&mut self, here: &str) {
        let (touched, defaults) = std::mem::take(&mut self.last_touched);
        if defaults {
            self.expand_here(here);
        } else {
            self.expand_here_in(here, &touched);
        }
    }

    fn expand_here_in(&mut self, here: &str, which: &[usize]) {
        const HERE: &str = "%(here)s";
        let defaults = &self.defaults;
        for &i in which {
            let s = &mut self.sections[i];
            let mut updates: Vec<(String, Entry)> = Vec::new();
            for k in s.entries.keys() {
                let e = s.entries.get(k).expect("key listed");
                if e.value.contains(HERE) {
                    updates.push((k.to_string(), e.clone()));
                }
            }
            for k in defaults.keys() {
                if s.entries.get(k).is_none() {
                    let e = defaults.get(k).expect("key listed");
                    if e.value.contains(HERE) {
                        updates.push((k.to_string(), e.clone()));
                    }
                }
            }
            for (k, mut e) in updates {
                e.value = e.value.replace(HERE, here);
                s.entries.set(&k, e);
            }
        }
    }

    /// Reads one file's text into the document (`RawConfigParser._read`). `fpname` is the
    /// name used in messages.
    pub fn read_str(&mut self, text: &str, fpname: &str) -> Result<(), IniError> {
        let file: Arc<str> = Arc::from(fpname);
        // Where the current option lives: (section index or None for DEFAULT, key).
        let mut cursect: Option<Option<usize>> = None;
        let mut optname: Option<String> = None;
        let mut indent_level: usize = 0;
        // Values being built in this read: (section, key) -> lines.
        let mut pending: Vec<(Option<usize>, String, Vec<String>)> = Vec::new();
        let mut pending_idx: HashMap<(Option<usize>, String), usize> = HashMap::new();
        let mut errors: Vec<(usize, String)> = Vec::new();
        let mut touched: Vec<usize> = Vec::new();
        let mut touched_set: std::collections::HashSet<usize> = Default::default();
        let mut defaults_touched = false;

        for (lineno0, line) in split_lines(text).enumerate() {
            let lineno = lineno0 + 1;
            let comment_start = comment_start(line);
            let value = match comment_start {
                Some(cs) => py_strip(&line[..cs]),
                None => py_strip(line),
            };
            if value.is_empty() {
                if comment_start.is_none() {
                    if let (Some(sect), Some(opt)) = (cursect, optname.as_ref()) {
                        if let Some(&pi) = pending_idx.get(&(sect, opt.clone())) {
                            pending[pi].2.push(String::new());
                        }
                    }
                }
                continue;
            }
            let cur_indent = line
                .char_indices()
                .find(|(_, c)| !py_isspace(*c))
                .map(|(i, _)| line[..i].chars().count())
                .unwrap_or(0);
            if let (Some(sect), Some(opt), true) =
                (cursect, optname.as_ref(), cur_indent > indent_level)
            {
                if let Some(&pi) = pending_idx.get(&(sect, opt.clone())) {
                    pending[pi].2.push(value.to_string());
                }
                if section_header(value).is_some() {
                    self.suspects.push(Suspect::IndentedHeader {
                        at: At {
                            file: file.clone(),
                            line: lineno,
                        },
                        text: value.to_string(),
                        section: sect.map(|i| self.sections[i].name.clone()),
                        key: opt.clone(),
                    });
                }
                continue;
            }
            indent_level = cur_indent;
            if let Some(header) = section_header(value) {
                self.headers.push(Header {
                    name: header.to_string(),
                    at: At {
                        file: file.clone(),
                        line: lineno,
                    },
                });
                if header == DEFAULT_SECTION && !self.index.contains_key(header) {
                    cursect = Some(None);
                } else if let Some(&i) = self.index.get(header) {
                    cursect = Some(Some(i));
                } else {
                    let i = self.sections.len();
                    self.sections.push(Section {
                        name: header.to_string(),
                        entries: Entries::default(),
                    });
                    self.index.insert(header.to_string(), i);
                    cursect = Some(Some(i));
                }
                if let Some(Some(i)) = cursect {
                    if touched_set.insert(i) {
                        touched.push(i);
                    }
                }
                optname = None;
                continue;
            }
            let Some(sect) = cursect else {
                return Err(IniError {
                    file: fpname.to_string(),
                    line: lineno,
                    message: format!(
                        "File contains no section headers.\nfile: {}, line: {}\n{}",
                        py_repr(fpname),
                        lineno,
                        py_repr(line)
                    ),
                });
            };
            match value.find(['=', ':']) {
                Some(d) => {
                    let key_raw = value[..d].trim_end_matches(py_isspace);
                    if key_raw.is_empty() {
                        errors.push((lineno, py_repr(line)));
                    }
                    let key = key_raw.to_lowercase();
                    let val = py_strip(&value[d + 1..]).to_string();
                    let entry = Entry {
                        value: String::new(),
                        file: file.clone(),
                        line: lineno,
                    };
                    let here_at = At {
                        file: file.clone(),
                        line: lineno,
                    };
                    let sect_name = sect.map(|i| self.sections[i].name.clone());
                    if value.starts_with('[') {
                        self.suspects.push(Suspect::MissingBracket {
                            at: here_at.clone(),
                            text: value.to_string(),
                            section: sect_name.clone(),
                            key: key.clone(),
                        });
                    }
                    let previous = match sect {
                        None => self.defaults.get(&key),
                        Some(i) => self.sections[i].entries.get(&key),
                    };
                    if let Some(p) = previous {
                        self.suspects.push(Suspect::DuplicateKey {
                            section: sect_name,
                            key: key.clone(),
                            first: At {
                                file: p.file.clone(),
                                line: p.line,
                            },
                            again: here_at,
                        });
                    }
                    match sect {
                        None => {
                            defaults_touched = true;
                            self.defaults.set(&key, entry)
                        }
                        Some(i) => {
                            if touched_set.insert(i) {
                                touched.push(i);
                            }
                            self.sections[i].entries.set(&key, entry)
                        }
                    }
                    let pk = (sect, key.clone());
                    match pending_idx.get(&pk) {
                        Some(&pi) => pending[pi].2 = vec![val],
                        None => {
                            pending_idx.insert(pk, pending.len());
                            pending.push((sect, key.clone(), vec![val]));
                        }
                    }
                    optname = Some(key);
                }
                None => errors.push((lineno, py_repr(line))),
            }
        }
        self.last_touched = (touched, defaults_touched);
        // join multi-line values
        for (sect, key, lines) in pending {
            let joined = lines.join("\n");
            let joined = joined.trim_end_matches(py_isspace).to_string();
            let e = match sect {
                None => self.defaults.get_mut(&key),
                Some(i) => self.sections[i].entries.get_mut(&key),
            };
            if let Some(e) = e {
                e.value = joined;
            }
        }
        if let Some(&(first, _)) = errors.first() {
            let mut message = format!("Source contains parsing errors: {}", py_repr(fpname));
            for (n, l) in &errors {
                message.push_str(&format!("\n\t[line {n:2}]: {l}"));
            }
            return Err(IniError {
                file: fpname.to_string(),
                line: first,
                message,
            });
        }
        Ok(())
    }
}

/// Splits like iterating a Python text file with universal newlines: `\r\n` and `\r` become
/// `\n`, and each line keeps its `\n`.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= bytes.len() {
            return None;
        }
        let start = pos;
        while pos < bytes.len() {
            match bytes[pos] {
                b'\n' => {
                    pos += 1;
                    return Some(&text[start..pos]);
                }
                b'\r' => {
                    // the caller normalises \r\n / \r to \n before us; see normalize_newlines
                    pos += 1;
                    return Some(&text[start..pos]);
                }
                _ => pos += 1,
            }
        }
        Some(&text[start..pos])
    })
}

/// Translates `\r\n` and lone `\r` to `\n` (Python's universal newlines on read).
pub fn normalize_newlines(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\r') {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// Where a comment starts on a line: full-line `;`/`#` → 0; inline `;`/`#` only when at the
/// start or after whitespace, found with configparser's round-robin search.
fn comment_start(line: &str) -> Option<usize> {
    let stripped = py_strip(line);
    if stripped.starts_with('#') || stripped.starts_with(';') {
        return Some(0);
    }
    let mut positions: Vec<(char, Option<usize>)> = vec![(';', None), ('#', None)];
    let mut best: Option<usize> = None;
    while best.is_none() && !positions.is_empty() {
        let mut next = Vec::new();
        for (p, last) in &positions {
            let from = match last {
                None => 0,
                Some(i) => i + p.len_utf8(),
            };
            let Some(rel) = line[from..].find(*p) else {
                continue;
            };
            let idx = from + rel;
            next.push((*p, Some(idx)));
            let qualifies = idx == 0
                || line[..idx]
                    .chars()
                    .next_back()
                    .map(py_isspace)
                    .unwrap_or(false);
            if qualifies {
                best = Some(best.map_or(idx, |b: usize| b.min(idx)));
            }
        }
        positions = next;
    }
    best
}

/// `\[(?P<header>.+)\]` matched at the start of the stripped line.
fn section_header(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    if end == 0 {
        return None;
    }
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Ini {
        let mut ini = Ini::new();
        ini.read_str(text, "t.conf").unwrap();
        ini
    }

    fn v<'a>(ini: &'a Ini, s: &str, k: &str) -> &'a str {
        &ini.get(s, k).unwrap().value
    }

    #[test]
    fn delimiters_case_and_comments() {
        let ini =
            parse("[s]\nA = 1\nb: 2\nc=x;y\nd=x ;y\ne=x #y\n; full\n  # full\nf=\ng = a:b=c\n");
        assert_eq!(v(&ini, "s", "a"), "1");
        assert_eq!(v(&ini, "s", "b"), "2");
        assert_eq!(v(&ini, "s", "c"), "x;y");
        assert_eq!(v(&ini, "s", "d"), "x");
        assert_eq!(v(&ini, "s", "e"), "x");
        assert_eq!(v(&ini, "s", "f"), "");
        assert_eq!(v(&ini, "s", "g"), "a:b=c");
        assert_eq!(ini.get("s", "a").unwrap().line, 2);
    }

    #[test]
    fn inline_comment_round_robin_quirk() {
        // ';' at 3 does not qualify, '#' at 9 does: the later ';' at 6 is never examined.
        let ini = parse("[s]\na=x;y ;z #w\n");
        assert_eq!(v(&ini, "s", "a"), "x;y ;z");
    }

    #[test]
    fn continuation_and_blank_lines() {
        let ini = parse("[s]\na = one\n  two\n\n  three\n\n\nb=1\n  ; comment\n  c\n");
        assert_eq!(v(&ini, "s", "a"), "one\ntwo\n\nthree");
        assert_eq!(v(&ini, "s", "b"), "1\nc");
    }

    #[test]
    fn sections_case_sensitive_merge_and_default() {
        let ini = parse("[DEFAULT]\nx=d\n[a]\nk=1\n[A]\nk=2\n[a]\nk=3\nj=4\n");
        assert_eq!(v(&ini, "a", "k"), "3");
        assert_eq!(v(&ini, "A", "k"), "2");
        assert_eq!(v(&ini, "a", "x"), "d");
        assert_eq!(ini.section_names().collect::<Vec<_>>(), vec!["a", "A"]);
        assert_eq!(ini.options("a"), vec!["k", "j", "x"]);
    }

    #[test]
    fn stray_bracket_is_a_key() {
        let ini = parse("[s]\n[program:a\n");
        assert_eq!(v(&ini, "s", "[program"), "a");
        assert_eq!(
            ini.suspects(),
            &[Suspect::MissingBracket {
                at: At {
                    file: Arc::from("t.conf"),
                    line: 2,
                },
                text: "[program:a".into(),
                section: Some("s".into()),
                key: "[program".into(),
            }]
        );
    }

    #[test]
    fn headers_duplicates_and_indented_headers_are_recorded() {
        let ini = parse("[a]\nk=1\n  [t]\n[b]\n[a]\nk=2\n");
        let names: Vec<(&str, usize)> = ini
            .headers()
            .iter()
            .map(|h| (h.name.as_str(), h.at.line))
            .collect();
        assert_eq!(names, vec![("a", 1), ("b", 4), ("a", 5)]);
        let at = |line| At {
            file: Arc::from("t.conf"),
            line,
        };
        assert_eq!(
            ini.suspects(),
            &[
                Suspect::IndentedHeader {
                    at: at(3),
                    text: "[t]".into(),
                    section: Some("a".into()),
                    key: "k".into(),
                },
                Suspect::DuplicateKey {
                    section: Some("a".into()),
                    key: "k".into(),
                    first: at(2),
                    again: at(6),
                },
            ]
        );
        assert_eq!(v(&ini, "a", "k"), "2");
    }

    #[test]
    fn parse_errors_list_every_bad_line() {
        let mut ini = Ini::new();
        let e = ini
            .read_str("[s]\nok=1\nbad line\n=x\n", "f.conf")
            .unwrap_err();
        assert_eq!(
            e.message,
            "Source contains parsing errors: 'f.conf'\n\t[line  3]: 'bad line\\n'\n\t[line  4]: '=x\\n'"
        );
        assert_eq!(e.line, 3);
    }

    #[test]
    fn missing_section_header() {
        let mut ini = Ini::new();
        let e = ini.read_str("a=1\n", "f.conf").unwrap_err();
        assert_eq!(
            e.message,
            "File contains no section headers.\nfile: 'f.conf', line: 1\n'a=1\\n'"
        );
    }

    #[test]
    fn indented_header_continues_value() {
        let ini = parse("[s]\na=1\n  [t]\n");
        assert_eq!(v(&ini, "s", "a"), "1\n[t]");
        assert!(!ini.has_section("t"));
    }

    #[test]
    fn here_replacement() {
        let mut ini = parse("[DEFAULT]\nd=%(here)s/d\n[s]\na=%(here)s/x\n");
        ini.expand_here("/h");
        assert_eq!(v(&ini, "s", "a"), "/h/x");
        assert_eq!(v(&ini, "s", "d"), "/h/d");
    }
}
