//! Diagnostics are data: a stable code, a severity, a message, labelled
//! spans (possibly in several files), a help line and structured fixes.
//!
//! - [`catalog`] holds the wording: one constructor per condition, called by
//!   every stage, so no message text is written at a reporting site;
//! - [`Diagnostics`] collects them, keeping at most [`CAP_PER_CODE`] of
//!   each code (the rest are counted, not stored);
//! - [`render`] turns them into text (codespan-reporting, with control
//!   characters from the spec escaped) or JSON lines; the language server
//!   converts the same values.

pub mod catalog;
mod render;

pub use render::{escape_text, render, to_json_lines};

use serde::Serialize;
use std::collections::BTreeMap;
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
    /// Information the author should see (a derived number, a consequence);
    /// never fails a command, `--deny-warnings` included.
    Note,
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
                    $( Code::$variant => include_str!(concat!("../../../docs/diagnostics/", $code, ".md")), )*
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
    SingletonNamed = "S0112", "declaration that takes no name given one";
    ValueOrBlock = "S0113", "a value where a block is due, or a block where a value is due";
    DuplicateEndpoint = "S0114", "two routes serve the same method and path";
    RoutesOnDependency = "S0115", "routes on a service that is not HTTP";
    DeclWithoutName = "S0116", "declaration without a name";
    NoApp = "S0117", "project without an `app`";
    InvalidUtf8 = "S0118", "file is not valid UTF-8";
    UnitMismatch = "S0201", "wrong unit or type of value";
    MixedUnits = "S0202", "arithmetic mixes units";
    UnknownUnit = "S0203", "unknown unit";
    OutOfRange = "S0204", "value out of range";
    RangeOrder = "S0206", "range bounds out of order";
    DivisionByZero = "S0207", "division by zero";
    UnknownWord = "S0208", "word not among the field's choices";
    NotOneLine = "S0209", "text is not one printable line";
    InvalidName = "S0210", "name with characters its target does not allow";
    InvalidPath = "S0211", "route path that is not safe to generate";
    InvalidImage = "S0212", "malformed container image reference";
    InvalidUrl = "S0213", "not an http(s) URL";
    AutoscaleFixedReplicas = "S0214", "autoscaling with a fixed replica count";
    NoResourceRequests = "S0215", "deployed service without resource requests";
    NamespaceTooLong = "S0216", "namespace and environment too long together";
    StoreCannotDeploy = "S0217", "data store the Kubernetes target cannot deploy as written";
    PercentileOrder = "S0301", "percentiles out of order";
    TimeoutBelowP99 = "S0302", "timeout below 1.2 × p99";
    CallCycle = "S0303", "call graph cycle";
    CriticalPath = "S0304", "budget cannot cover its callees";
    NoBudgetBound = "S0305", "budget without p99 or timeout";
    UnsafeRetry = "S0306", "retry on a non-idempotent route";
    CircularPercentile = "S0307", "budget percentile defined in terms of itself";
    EdgeOverBudget = "S0308", "call edge's timeout and retries exceed the route's budget";
    CallOptionsTwice = "S0309", "options for one call edge given twice";
    EdgeTimeoutBelowCallee = "S0310", "call edge timeout below the callee's p99";
    BurstBelowRate = "S0401", "burst smaller than one second of rate";
    UnknownLimitKey = "S0402", "unknown limit key";
    TenantNotProxyReadable = "S0403", "per-tenant limit on a tenant proxies cannot read";
    RouteLimitTwice = "S0404", "one key limited twice on a route";
    OwnRateNeverBinds = "S0405", "route's own rate not below the app-wide rate of its key";
    JwtSizeLarge = "S0501", "JWT size cap above 2KiB";
    JwtSizeTooLarge = "S0502", "JWT size cap above 8KiB";
    RotationOverlap = "S0503", "key rotation overlap not shorter than the period";
    RefreshCapLong = "S0504", "session refresh cap above 30 days";
    UnknownAlgorithm = "S0505", "unknown JWT algorithm";
    RotationStart = "S0506", "key rotation start is not a UTC date";
    ObjectiveRange = "S0601", "SLO objective outside (0%, 100%)";
    AlertWindows = "S0602", "alert long window not longer than short window";
    BurnFactorImpossible = "S0603", "burn factor needs more than 100% errors";
    LatencyNotBucket = "S0604", "latency threshold is not a histogram bucket";
    BadSli = "S0605", "SLI not understood";
    AlertBeyondSlo = "S0606", "alert window longer than the SLO window";
    ReservedAlertLabel = "S0607", "alert label the rules set themselves";
    BadLabelValue = "S0608", "not a Kubernetes label";
    UnknownDriftSignal = "S0609", "unknown drift signal";
    BadSeverityName = "S0610", "alert severity name not usable";
    MixSum = "S0701", "traffic mix does not sum to 100%";
    UnknownClass = "S0702", "request class not served by the target";
    BadStage = "S0703", "malformed load stage";
    TargetWithoutRoutes = "S0704", "load test target without routes";
    ChaosNoBudget = "S0801", "relative latency needs a budget";
    UnknownChaosAction = "S0802", "unknown chaos action";
    UnknownGateCheck = "S0901", "unknown gate condition";
    GateNotUpperBound = "S0902", "gate condition that is not an upper bound";
    CompilerVersion = "S1001", "compiler version outside the pinned range";
    BadVersion = "S1002", "malformed version";
    RampGoesNowhere = "S1101", "ramp that stays at one rate";
    NoTraffic = "S1102", "load test that sends no traffic";
    KeyRateAboveLimit = "S1103", "load test's per-key rate above the spec's own limit";
    RoutePathTooLong = "S1201", "route path too long for the proxy configs";
    LimitKeysOverHaproxy = "S1202", "more limit keys than HAProxy tracks per request";
    UrlTooLong = "S1203", "issuer or JWKS address too long for the edge configs";
    LimitMultiplied = "S1204", "per-key limit multiplied by the edge replicas past its burst";
    EffectiveRate = "S1205", "the effective global rate of a per-replica limit";
    ContractUnreadable = "S1301", "contract or body schema file that cannot be read or parsed";
    ContractNotOpenApi = "S1302", "contract that is not an OpenAPI 3.0 or 3.1 document";
    RouteNotInContract = "S1303", "route path missing from the contract";
    MethodNotInContract = "S1304", "route method the contract does not have for the path";
    ContractOperationUnused = "S1305", "contract operation with no route in the spec";
    InvalidBodySchema = "S1306", "request body schema that is not a valid JSON Schema";
    BodySchemaMismatch = "S1307", "request body schema that disagrees with the contract";
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

/// One text replacement: `replacement` takes the place of the bytes `span`
/// covers (an empty span inserts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edit {
    pub span: Span,
    pub replacement: String,
}

/// A change an editor can apply: what it does, and its edits (in any file,
/// never overlapping).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    pub message: String,
    pub edits: Vec<Edit>,
}

impl Fix {
    /// The fix that replaces one span's text.
    pub fn replace(message: impl Into<String>, span: Span, replacement: impl Into<String>) -> Fix {
        Fix {
            message: message.into(),
            edits: vec![Edit {
                span,
                replacement: replacement.into(),
            }],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
    pub notes: Vec<String>,
    /// Edits that resolve the problem, when they are certain.
    pub fixes: Vec<Fix>,
    /// In a summary of diagnostics left out by the cap: how many of this
    /// code were not kept (0 for every ordinary diagnostic).
    pub hidden: usize,
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
            fixes: Vec::new(),
            hidden: 0,
        }
    }

    pub fn warning(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn informational(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Note,
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

    /// A structured suggestion an editor can apply.
    pub fn fix(mut self, fix: Fix) -> Diagnostic {
        self.fixes.push(fix);
        self
    }

    /// `fix` when there is one.
    pub fn fix_opt(self, fix: Option<Fix>) -> Diagnostic {
        match fix {
            Some(f) => self.fix(f),
            None => self,
        }
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
/// The summaries of what the cap left out come last.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        let ka = a.primary_span().map(|s| (s.file, s.start, s.end));
        let kb = b.primary_span().map(|s| (s.file, s.start, s.end));
        (a.hidden > 0)
            .cmp(&(b.hidden > 0))
            .then(ka.cmp(&kb))
            .then(a.code.cmp(&b.code))
            .then(a.message.cmp(&b.message))
    });
}

/// How many diagnostics of one code are kept; the rest are only counted.
pub const CAP_PER_CODE: usize = 100;

/// A collection of diagnostics that keeps at most [`CAP_PER_CODE`] of each
/// code, so a huge spec with one mistake repeated cannot exhaust memory:
/// past the cap, a diagnostic is counted and dropped at once, and
/// [`Diagnostics::into_vec`] adds one summary per code that overflowed.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
    kept: BTreeMap<Code, usize>,
    /// Per code: how many were dropped, the most severe severity, and
    /// where the first of them was.
    dropped: BTreeMap<Code, Dropped>,
}

#[derive(Debug, Clone)]
struct Dropped {
    count: usize,
    severity: Severity,
    first: Option<Span>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        if d.hidden > 0 {
            // A summary from another collection: fold its count in.
            self.drop_n(&d, d.hidden);
            return;
        }
        let kept = self.kept.entry(d.code).or_default();
        if *kept >= CAP_PER_CODE {
            self.drop_n(&d, 1);
            return;
        }
        *kept += 1;
        self.list.push(d);
    }

    fn drop_n(&mut self, d: &Diagnostic, n: usize) {
        let e = self.dropped.entry(d.code).or_insert(Dropped {
            count: 0,
            severity: d.severity,
            first: None,
        });
        e.count += n;
        e.severity = e.severity.min(d.severity); // Error sorts before Warning
        e.first = e.first.or(d.primary_span());
    }

    /// Removes the last diagnostic kept (the parser retracts one when a
    /// better one explains the same text).
    pub fn pop(&mut self) -> Option<Diagnostic> {
        let d = self.list.pop()?;
        if let Some(k) = self.kept.get_mut(&d.code) {
            *k -= 1;
        }
        Some(d)
    }

    /// How many were dropped by the cap, in all.
    pub fn hidden(&self) -> usize {
        self.dropped.values().map(|d| d.count).sum()
    }

    /// The diagnostics kept, then one summary per code that overflowed.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        let mut list = self.list;
        for (code, d) in self.dropped {
            list.push(catalog::omitted(code, d.severity, d.count, d.first));
        }
        list
    }
}

impl std::ops::Deref for Diagnostics {
    type Target = [Diagnostic];
    fn deref(&self) -> &[Diagnostic] {
        &self.list
    }
}

impl Extend<Diagnostic> for Diagnostics {
    fn extend<I: IntoIterator<Item = Diagnostic>>(&mut self, iter: I) {
        for d in iter {
            self.push(d);
        }
    }
}

impl FromIterator<Diagnostic> for Diagnostics {
    fn from_iter<I: IntoIterator<Item = Diagnostic>>(iter: I) -> Diagnostics {
        let mut out = Diagnostics::default();
        out.extend(iter);
        out
    }
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

    /// The byte offset of a zero-based (line, column in UTF-16 code units),
    /// as LSP sends positions: a line past the end is the end of the text, a
    /// column past the line's end is its end (before the `\n`), and a column
    /// inside a surrogate pair is the start of that character.
    pub fn offset_utf16(&self, line: usize, col: usize) -> usize {
        let Some(&start) = self.line_starts.get(line) else {
            return self.text.len();
        };
        let end = self
            .line_starts
            .get(line + 1)
            .map_or(self.text.len(), |&next| next - 1);
        let mut units = 0;
        for (i, ch) in self.text[start..end].char_indices() {
            units += ch.len_utf16();
            if units > col {
                return start + i;
            }
        }
        end
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
    fn the_cap_bounds_what_is_kept_at_collection_time() {
        let mut c = Diagnostics::default();
        let span = Span::new(FileId(0), 0, 1);
        for i in 0..1_000_000 {
            c.push(Diagnostic::warning(Code::UnusedBudget, format!("b{i}")).primary(span, "x"));
            if i % 3 == 0 {
                c.push(Diagnostic::error(Code::OutOfRange, "r").primary(span, "x"));
            }
        }
        // Only what is kept takes memory; the rest is a count per code.
        assert_eq!(c.len(), 2 * CAP_PER_CODE);
        assert_eq!(c.hidden(), 1_000_000 - 100 + 333_334 - 100);
        let v = c.into_vec();
        assert_eq!(v.len(), 2 * CAP_PER_CODE + 2);
        let summaries: Vec<&Diagnostic> = v.iter().filter(|d| d.hidden > 0).collect();
        assert_eq!(summaries.len(), 2);
        assert!(summaries.iter().any(|d| d.code == Code::UnusedBudget
            && d.hidden == 999_900
            && d.severity == Severity::Warning));
        // A summary folds into another collection as its count.
        let mut merged: Diagnostics = v.into_iter().collect();
        merged.push(Diagnostic::warning(Code::UnusedBudget, "one more"));
        assert_eq!(merged.hidden(), 999_900 + 333_234 + 1);
    }

    #[test]
    fn line_col_counts_characters() {
        let f = SourceFile::new("a", "ab\nçd\n");
        assert_eq!(f.line_col(0), (0, 0));
        assert_eq!(f.line_col(3), (1, 0));
        assert_eq!(f.line_col(6), (1, 2));
        assert_eq!(f.line_col_utf16(6), (1, 2));
    }

    #[test]
    fn offset_utf16_inverts_line_col_utf16() {
        // `😀` is two UTF-16 units and four bytes; `é` one unit, two bytes.
        let f = SourceFile::new("a", "a😀b\né\r\nz");
        for off in [0, 1, 5, 6, 7, 9, 11, 12] {
            let (l, c) = f.line_col_utf16(off);
            assert_eq!(f.offset_utf16(l, c), off, "offset {off} -> {l}:{c}");
        }
        assert_eq!(
            f.offset_utf16(0, 2),
            1,
            "inside the pair: the character's start"
        );
        assert_eq!(f.offset_utf16(0, 99), 6, "past the line: its end");
        assert_eq!(f.offset_utf16(9, 0), f.text.len(), "past the text: its end");
    }
}
