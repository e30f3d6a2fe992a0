//! Diagnostics are data: a stable code, a severity, a message, labelled
//! spans (possibly in several files) and a help line. Each stage has its own
//! way of producing them; the CLI renders them with codespan-reporting and
//! `--message-format json` prints them as JSON lines; the language server
//! converts the same values.

use serde::Serialize;
use std::fmt;

/// Index of a file in the [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
pub struct FileId(pub u32);

/// A byte range in one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: start as u32,
            end: end.max(start) as u32,
        }
    }

    /// The smallest span covering both (same file assumed).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

macro_rules! codes {
    ($( $variant:ident = $code:literal, $title:literal; )*) => {
        /// Every diagnostic the compiler can emit. The string form is stable:
        /// once released, a code keeps its meaning forever.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $( $variant, )* }

        impl Code {
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $code, )* }
            }

            /// One line saying what the code is about.
            pub fn title(self) -> &'static str {
                match self { $( Code::$variant => $title, )* }
            }

            /// The long explanation, one markdown page per code (docs/diagnostics/).
            pub fn explanation(self) -> &'static str {
                match self {
                    $( Code::$variant => include_str!(concat!("../../docs/diagnostics/", $code, ".md")), )*
                }
            }

            pub fn parse(s: &str) -> Option<Code> {
                let s = s.trim().to_ascii_uppercase();
                Code::ALL.iter().copied().find(|c| c.as_str() == s)
            }
        }
    };
}

codes! {
    Syntax = "S0001", "syntax error";
    UnknownName = "S0101", "unknown name";
    DuplicateName = "S0102", "duplicate name";
    UnusedBudget = "S0103", "unused budget";
    UnknownDeclKind = "S0104", "unknown declaration kind";
    UnknownField = "S0105", "unknown field";
    MissingField = "S0106", "missing required field";
    UnknownModule = "S0107", "unknown standard library module or name";
    PathEscapesRoot = "S0108", "path escapes the project root";
    DuplicateField = "S0109", "field given twice";
    FileNotFound = "S0110", "imported file not found";
    SingletonTwice = "S0111", "declaration allowed once per project";
    InvalidUtf8 = "S0112", "file is not valid UTF-8";
    UnitMismatch = "S0201", "wrong unit or type of value";
    MixedUnits = "S0202", "arithmetic mixes units";
    UnknownUnit = "S0203", "unknown unit";
    OutOfRange = "S0204", "value out of range";
    RangeOrder = "S0206", "range bounds out of order";
    PercentileOrder = "S0301", "percentiles out of order";
    TimeoutBelowP99 = "S0302", "timeout below 1.2 × p99";
    CallCycle = "S0303", "call graph cycle";
    CriticalPath = "S0304", "budget cannot cover its callees";
    NoBudgetBound = "S0305", "budget without p99 or timeout";
    UnsafeRetry = "S0306", "retry on a non-idempotent route";
    BurstBelowRate = "S0401", "burst smaller than one second of rate";
    UnknownLimitKey = "S0402", "unknown limit key";
    JwtSizeLarge = "S0501", "JWT size cap above 2KiB";
    JwtSizeTooLarge = "S0502", "JWT size cap above 8KiB";
    RotationOverlap = "S0503", "key rotation overlap not shorter than the period";
    RefreshCapLong = "S0504", "session refresh cap above 30 days";
    UnknownAlgorithm = "S0505", "unknown JWT algorithm";
    ObjectiveRange = "S0601", "SLO objective outside (0%, 100%)";
    AlertWindows = "S0602", "alert long window not longer than short window";
    BurnFactorImpossible = "S0603", "burn factor needs more than 100% errors";
    LatencyNotBucket = "S0604", "latency threshold is not a histogram bucket";
    BadSli = "S0605", "SLI not understood";
    MixSum = "S0701", "traffic mix does not sum to 100%";
    UnknownClass = "S0702", "request class not served by the target";
    BadStage = "S0703", "malformed load stage";
    ChaosNoBudget = "S0801", "relative latency needs a budget";
    UnknownChaosAction = "S0802", "unknown chaos action";
    UnknownGateCheck = "S0901", "unknown gate condition";
    CompilerVersion = "S1001", "compiler version outside the pinned range";
    BadVersion = "S1002", "malformed version";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn warning(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// The primary label: where the problem is.
    pub fn primary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: true,
        });
        self
    }

    /// A secondary label: context (the other operand, the definition, …).
    pub fn secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    pub fn primary_span(&self) -> Option<Span> {
        self.labels
            .iter()
            .find(|l| l.primary)
            .or(self.labels.first())
            .map(|l| l.span)
    }
}

/// Sort for output: by file, position, then code, so the order is stable.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        let ka = a.primary_span().map(|s| (s.file, s.start, s.end));
        let kb = b.primary_span().map(|s| (s.file, s.start, s.end));
        ka.cmp(&kb)
            .then(a.code.cmp(&b.code))
            .then(a.message.cmp(&b.message))
    });
}

// ------------------------------------------------------------------ sources

#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name shown to users: a path relative to the project, or `std/…`.
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// Zero-based (line, column in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(l) => l,
            Err(l) => l - 1,
        };
        let start = self.line_starts[line];
        let col = self
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        (line, col)
    }

    /// Zero-based (line, column in UTF-16 code units), as LSP wants.
    pub fn line_col_utf16(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let (line, _) = self.line_col(offset);
        let start = self.line_starts[line];
        let col = self
            .text
            .get(start..offset)
            .map(|s| s.encode_utf16().count())
            .unwrap_or(0);
        (line, col)
    }
}

/// All files of one compilation: the project's and the standard library's.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        self.files.push(SourceFile::new(name, text));
        FileId((self.files.len() - 1) as u32)
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    pub fn find(&self, name: &str) -> Option<FileId> {
        self.files
            .iter()
            .position(|f| f.name == name)
            .map(|i| FileId(i as u32))
    }

    /// The text a span covers.
    pub fn snippet(&self, span: Span) -> &str {
        self.get(span.file).text.get(span.range()).unwrap_or("")
    }
}

impl<'a> codespan_reporting::files::Files<'a> for SourceMap {
    type FileId = FileId;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: FileId) -> Result<&'a str, codespan_reporting::files::Error> {
        self.files
            .get(id.0 as usize)
            .map(|f| f.name.as_str())
            .ok_or(codespan_reporting::files::Error::FileMissing)
    }

    fn source(&'a self, id: FileId) -> Result<&'a str, codespan_reporting::files::Error> {
        self.files
            .get(id.0 as usize)
            .map(|f| f.text.as_str())
            .ok_or(codespan_reporting::files::Error::FileMissing)
    }

    fn line_index(
        &'a self,
        id: FileId,
        byte_index: usize,
    ) -> Result<usize, codespan_reporting::files::Error> {
        Ok(self.get(id).line_col(byte_index).0)
    }

    fn line_range(
        &'a self,
        id: FileId,
        line_index: usize,
    ) -> Result<std::ops::Range<usize>, codespan_reporting::files::Error> {
        let f = self
            .files
            .get(id.0 as usize)
            .ok_or(codespan_reporting::files::Error::FileMissing)?;
        let start = *f.line_starts.get(line_index).ok_or(
            codespan_reporting::files::Error::LineTooLarge {
                given: line_index,
                max: f.line_starts.len() - 1,
            },
        )?;
        let end = f
            .line_starts
            .get(line_index + 1)
            .copied()
            .unwrap_or(f.text.len());
        Ok(start..end)
    }
}

// ------------------------------------------------------------------ rendering

fn to_codespan(d: &Diagnostic) -> codespan_reporting::diagnostic::Diagnostic<FileId> {
    use codespan_reporting::diagnostic as cs;
    let base = match d.severity {
        Severity::Error => cs::Diagnostic::error(),
        Severity::Warning => cs::Diagnostic::warning(),
    };
    let mut notes: Vec<String> = d.notes.clone();
    if let Some(h) = &d.help {
        notes.push(format!("help: {h}"));
    }
    base.with_code(d.code.as_str())
        .with_message(&d.message)
        .with_labels(
            d.labels
                .iter()
                .map(|l| {
                    let style = if l.primary {
                        cs::LabelStyle::Primary
                    } else {
                        cs::LabelStyle::Secondary
                    };
                    cs::Label::new(style, l.span.file, l.span.range()).with_message(&l.message)
                })
                .collect(),
        )
        .with_notes(notes)
}

/// Renders diagnostics as text, the way `scalec check` prints them.
pub fn render(sources: &SourceMap, diags: &[Diagnostic], color: bool) -> String {
    use codespan_reporting::term;
    let config = term::Config::default();
    let mut out: Vec<u8> = Vec::new();
    for d in diags {
        let cd = to_codespan(d);
        if color {
            let mut w = term::termcolor::Ansi::new(&mut out);
            let _ = term::emit_to_write_style(&mut w, &config, sources, &cd);
        } else {
            let mut w = term::termcolor::NoColor::new(&mut out);
            let _ = term::emit_to_write_style(&mut w, &config, sources, &cd);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Serialize)]
struct JsonPos {
    line: usize,
    column: usize,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    file: &'a str,
    byte_start: u32,
    byte_end: u32,
    start: JsonPos,
    end: JsonPos,
    message: &'a str,
    primary: bool,
}

#[derive(Serialize)]
struct JsonDiag<'a> {
    code: &'static str,
    severity: Severity,
    message: &'a str,
    file: Option<&'a str>,
    byte_start: Option<u32>,
    byte_end: Option<u32>,
    start: Option<JsonPos>,
    end: Option<JsonPos>,
    labels: Vec<JsonLabel<'a>>,
    help: Option<&'a str>,
    notes: &'a [String],
}

/// One JSON object per diagnostic, one per line. Lines and columns are
/// one-based (columns count characters).
pub fn to_json_lines(sources: &SourceMap, diags: &[Diagnostic]) -> String {
    let pos = |span: Span, off: u32| {
        let (l, c) = sources.get(span.file).line_col(off as usize);
        JsonPos {
            line: l + 1,
            column: c + 1,
        }
    };
    let mut out = String::new();
    for d in diags {
        let primary = d.primary_span();
        let j = JsonDiag {
            code: d.code.as_str(),
            severity: d.severity,
            message: &d.message,
            file: primary.map(|s| sources.get(s.file).name.as_str()),
            byte_start: primary.map(|s| s.start),
            byte_end: primary.map(|s| s.end),
            start: primary.map(|s| pos(s, s.start)),
            end: primary.map(|s| pos(s, s.end)),
            labels: d
                .labels
                .iter()
                .map(|l| JsonLabel {
                    file: sources.get(l.span.file).name.as_str(),
                    byte_start: l.span.start,
                    byte_end: l.span.end,
                    start: pos(l.span, l.span.start),
                    end: pos(l.span, l.span.end),
                    message: &l.message,
                    primary: l.primary,
                })
                .collect(),
            help: d.help.as_deref(),
            notes: &d.notes,
        };
        out.push_str(&serde_json::to_string(&j).expect("diagnostic serialises"));
        out.push('\n');
    }
    out
}

/// "did you mean" — the closest candidate by edit distance, if close enough.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let max = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= max)
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)))
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev[j - 1]); // transposition, approximately
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            suggest("web_defalt", ["web_default", "batch"]),
            Some("web_default")
        );
        assert_eq!(suggest("zzz", ["web_default", "batch"]), None);
        assert_eq!(suggest("sevice", ["service", "slo"]), Some("service"));
    }

    #[test]
    fn codes_are_unique_and_documented() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {c}");
            assert!(
                c.explanation().starts_with(&format!("# {}", c.as_str())),
                "{c} page must start with its code"
            );
        }
    }

    #[test]
    fn line_col_counts_characters() {
        let f = SourceFile::new("a", "ab\nçd\n");
        assert_eq!(f.line_col(0), (0, 0));
        assert_eq!(f.line_col(3), (1, 0));
        assert_eq!(f.line_col(6), (1, 2));
        assert_eq!(f.line_col_utf16(6), (1, 2));
    }
}
