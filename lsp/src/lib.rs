//! The `.scale` language server: a thin layer over the compiler's semantic
//! model (`scalec::query`), served over stdio with tower-lsp-server.
//!
//! One [`Unit`] per open document: the document and the files it `use`s
//! (open buffers first, then the disk), checked as one project on every
//! change (a full recheck; see docs/performance.md for what it costs). A
//! document that another open document `use`s is answered from that
//! document's unit, so a shared file is checked in the context that
//! imports it.
//!
//! Positions: LSP sends UTF-16 line/column; the compiler speaks bytes.
//! [`scalec::diagnostics::SourceFile`] converts both ways.
//!
//! The standard library and the diagnostic explanations are not on disk:
//! they are written once into a cache folder (`SCALEC_LSP_CACHE`, or
//! `scalec-lsp-VERSION` under the temporary folder) so that "go to
//! definition" into `std/budgets.scale` and the code links of diagnostics
//! open real files.

mod convert;
pub mod unit;

use convert::to_lsp_diagnostic;
use scalec::diagnostics::{FileId, SourceFile, Span};
use scalec::query::{self, CompletionKind};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};
use unit::{ParseCache, Unit};

/// Diagnostics for a document, with the version of its text they are about.
type Published = (Uri, Vec<Diagnostic>, Option<i32>);

/// An open document.
struct Doc {
    uri: Uri,
    text: String,
    version: i32,
}

#[derive(Default)]
struct State {
    docs: BTreeMap<String, Doc>,
    units: BTreeMap<String, Arc<Unit>>,
    /// Per unit (by its entry's key): the syntax trees of its chunks.
    parses: BTreeMap<String, ParseCache>,
}

impl State {
    /// The unit that answers for a document: the first other open
    /// document's unit that uses it, else its own.
    fn owner(&self, key: &str) -> Option<Arc<Unit>> {
        self.units
            .iter()
            .find(|(entry, u)| entry.as_str() != key && u.file_of(key).is_some())
            .or_else(|| self.units.get_key_value(key))
            .map(|(_, u)| u.clone())
    }
}

/// The key of a document: its file path when it has one, else its URI.
fn key_of(uri: &Uri) -> String {
    match uri.to_file_path() {
        Some(p) => p.to_string_lossy().into_owned(),
        None => uri.as_str().to_string(),
    }
}

/// Where the standard library and the explanations are written.
fn cache_dir() -> PathBuf {
    std::env::var_os("SCALEC_LSP_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("scalec-lsp-{}", scalec::VERSION)))
}

/// Writes `text` to `path` unless it is already there (read-only files).
fn ensure_file(path: &Path, text: &str) -> bool {
    if std::fs::read_to_string(path).is_ok_and(|t| t == text) {
        return true;
    }
    let Some(dir) = path.parent() else {
        return false;
    };
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    // Atomically: a reader never sees half a file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let ok = std::fs::write(&tmp, text).is_ok() && std::fs::rename(&tmp, path).is_ok();
    if ok {
        if let Ok(meta) = std::fs::metadata(path) {
            let mut perm = meta.permissions();
            perm.set_readonly(true);
            let _ = std::fs::set_permissions(path, perm);
        }
    } else {
        let _ = std::fs::remove_file(&tmp);
    }
    ok
}

/// The cached copies of the standard library and explanations, by name.
struct Cache {
    std: HashMap<String, Uri>,
    explain: HashMap<&'static str, Uri>,
}

impl Cache {
    fn new() -> Cache {
        let dir = cache_dir();
        let mut std = HashMap::new();
        for (module, text) in scalec::project::STDLIB {
            let name = format!("std/{module}.scale");
            let path = dir.join(&name);
            if ensure_file(&path, text) {
                if let Some(uri) = Uri::from_file_path(&path) {
                    std.insert(name, uri);
                }
            }
        }
        let mut explain = HashMap::new();
        for code in scalec::diagnostics::Code::ALL {
            let path = dir.join("explain").join(format!("{}.md", code.as_str()));
            if ensure_file(&path, code.explanation()) {
                if let Some(uri) = Uri::from_file_path(&path) {
                    explain.insert(code.as_str(), uri);
                }
            }
        }
        Cache { std, explain }
    }
}

pub struct Backend {
    client: Client,
    state: Mutex<State>,
    cache: std::sync::OnceLock<Cache>,
}

impl Backend {
    pub fn new(client: Client) -> Backend {
        Backend {
            client,
            state: Mutex::new(State::default()),
            cache: std::sync::OnceLock::new(),
        }
    }

    fn cache(&self) -> &Cache {
        self.cache.get_or_init(Cache::new)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Rechecks the unit of `key` and every unit that uses it; returns the
    /// diagnostics to publish, per document.
    fn recheck(&self, key: &str) -> Vec<Published> {
        let cache = self.cache();
        // A standard-library file opened from a definition is answered by
        // the units that load it (from the compiler's own copy), never
        // checked as a project of its own, and its edits change nothing.
        if cache.std.values().any(|u| key_of(u) == key) {
            return Vec::new();
        }
        let mut st = self.state();
        let mut entries: Vec<String> = st
            .units
            .iter()
            .filter(|(e, u)| e.as_str() != key && u.file_of(key).is_some())
            .map(|(e, _)| e.clone())
            .collect();
        if st.docs.contains_key(key) {
            entries.push(key.to_string());
        }
        for e in &entries {
            let st = &mut *st;
            let Some(doc) = st.docs.get(e) else { continue };
            let docs = &st.docs;
            let parses = st.parses.entry(e.clone()).or_default();
            // The previous unit lends its syntax trees back (unless a
            // request still holds it: then every chunk is parsed anew).
            if let Some(old) = st.units.remove(e).and_then(|u| Arc::try_unwrap(u).ok()) {
                parses.harvest(old);
            }
            let unit = unit::compile(
                unit::Input {
                    key: e,
                    uri: &doc.uri,
                    text: &doc.text,
                },
                &|k| docs.get(k).map(|d| d.text.clone()),
                &|name| cache.std.get(name).cloned(),
                parses,
            );
            st.units.insert(e.clone(), Arc::new(unit));
        }
        // Publish, for every project file of those units, what its owner says.
        let mut out: BTreeMap<String, Published> = BTreeMap::new();
        for e in &entries {
            let Some(unit) = st.units.get(e).cloned() else {
                continue;
            };
            let mut by_file = unit::diagnostics_by_file(&unit);
            for (ri, f) in unit.real.iter().enumerate() {
                let Some(uri) = &f.uri else { continue };
                if f.std || out.contains_key(&f.key) {
                    continue;
                }
                match st.owner(&f.key) {
                    Some(owner) if !Arc::ptr_eq(&owner, &unit) => continue,
                    _ => {}
                }
                let diags = by_file
                    .remove(&ri)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|d| to_lsp_diagnostic(d, &unit, cache.explain.get(d.code.as_str())))
                    .collect();
                let version = st.docs.get(&f.key).map(|d| d.version);
                out.insert(f.key.clone(), (uri.clone(), diags, version));
            }
        }
        out.into_values().collect()
    }

    async fn publish(&self, list: Vec<Published>) {
        for (uri, diags, version) in list {
            self.client.publish_diagnostics(uri, diags, version).await;
        }
    }

    /// The unit answering for a document, and the document's file in it.
    fn unit_at(&self, uri: &Uri) -> Option<(Arc<Unit>, usize)> {
        let key = key_of(uri);
        let unit = self.state().owner(&key)?;
        let ri = unit.file_of(&key)?;
        Some((unit, ri))
    }

    /// The unit, the real file, the chunk and the offset in it at a position.
    fn at(&self, pos: &TextDocumentPositionParams) -> Option<(Arc<Unit>, usize, FileId, usize)> {
        let (unit, ri) = self.unit_at(&pos.text_document.uri)?;
        let offset = unit.offset(ri, pos.position);
        let (file, local) = unit.point(ri, offset);
        Some((unit, ri, file, local))
    }
}

/// The semantic token types, in legend order.
pub const TOKEN_TYPES: &[SemanticTokenType] = &[
    SemanticTokenType::KEYWORD,
    SemanticTokenType::NAMESPACE,
    SemanticTokenType::CLASS,
    SemanticTokenType::METHOD,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::PROPERTY,
    SemanticTokenType::NUMBER,
];
const T_KEYWORD: u32 = 0;
const T_NAMESPACE: u32 = 1;
const T_CLASS: u32 = 2;
const T_METHOD: u32 = 3;
const T_VARIABLE: u32 = 4;
const T_PROPERTY: u32 = 5;
const T_NUMBER: u32 = 6;

pub const TOKEN_MODIFIERS: &[SemanticTokenModifier] = &[
    SemanticTokenModifier::DECLARATION,
    SemanticTokenModifier::DEFAULT_LIBRARY,
];
const M_DECLARATION: u32 = 1;
const M_STD: u32 = 2;

fn token_type(kind: &str) -> u32 {
    match kind {
        "app" => T_NAMESPACE,
        "service" => T_CLASS,
        "route" => T_METHOD,
        _ => T_VARIABLE,
    }
}

/// Semantic tokens from the model: declaration keywords and names,
/// references, field keys, number literals.
fn semantic_tokens(unit: &Unit, ri: usize) -> Vec<SemanticToken> {
    let m = &unit.c.model;
    let src = &unit.real[ri].src;
    let text = &src.text;
    let here = |s: Span| {
        unit.resolve(s)
            .filter(|(r, _, _)| *r == ri)
            .map(|(_, a, b)| (a, b))
    };
    // (start, end, type, modifiers), in the real file's bytes
    let mut toks: Vec<(usize, usize, u32, u32)> = Vec::new();
    for d in &m.decls {
        let Some((s, _)) = here(d.span) else { continue };
        if text
            .get(s..)
            .is_some_and(|t| t.starts_with(d.kind.as_str()))
        {
            toks.push((s, s + d.kind.len(), T_KEYWORD, 0));
        }
        if let Some((a, b)) = here(d.name_span) {
            toks.push((a, b, token_type(&d.kind), M_DECLARATION));
        }
    }
    for r in &m.references {
        let (Some((a, b)), Some(d)) = (here(r.span), m.decl(r.target)) else {
            continue;
        };
        let std = if d.std_module.is_some() { M_STD } else { 0 };
        toks.push((a, b, token_type(&d.kind), std));
    }
    for f in &m.fields {
        if let Some((a, b)) = here(f.key_span) {
            toks.push((a, b, T_PROPERTY, 0));
        }
    }
    for s in m.evaluated.keys() {
        let Some((a, b)) = here(*s) else { continue };
        let t = text.get(a..b).unwrap_or("");
        let literal = t.starts_with(|c: char| c.is_ascii_digit())
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '%' | '_'));
        if literal {
            toks.push((a, b, T_NUMBER, 0));
        }
    }
    toks.sort_by_key(|t| (t.0, t.1));
    let mut out = Vec::new();
    let (mut prev_line, mut prev_col, mut prev_end) = (0u32, 0u32, 0usize);
    for (start, end, ty, mods) in toks {
        if start < prev_end || end <= start {
            continue; // overlapping or empty
        }
        let Some(slice) = text.get(start..end) else {
            continue;
        };
        if slice.contains('\n') {
            continue;
        }
        let (line, col) = src.line_col_utf16(start);
        let (line, col) = (line as u32, col as u32);
        out.push(SemanticToken {
            delta_line: line - prev_line,
            delta_start: if line == prev_line {
                col - prev_col
            } else {
                col
            },
            length: slice.encode_utf16().count() as u32,
            token_type: ty,
            token_modifiers_bitset: mods,
        });
        prev_line = line;
        prev_col = col;
        prev_end = end;
    }
    out
}

fn symbol_kind(kind: &str) -> SymbolKind {
    match kind {
        "app" => SymbolKind::MODULE,
        "service" => SymbolKind::CLASS,
        "route" => SymbolKind::METHOD,
        "budget" | "limits" => SymbolKind::CONSTANT,
        "slo" => SymbolKind::OBJECT,
        _ => SymbolKind::STRUCT,
    }
}

#[allow(deprecated)] // DocumentSymbol::deprecated must be written
fn document_symbol(unit: &Unit, s: &query::Symbol) -> Option<DocumentSymbol> {
    let children: Vec<DocumentSymbol> = s
        .children
        .iter()
        .filter_map(|c| document_symbol(unit, c))
        .collect();
    let range = unit.location(s.span)?.range;
    let selection_range = unit.location(s.name_span)?.range;
    Some(DocumentSymbol {
        name: if s.name.is_empty() {
            s.kind.clone()
        } else {
            s.name.clone()
        },
        detail: Some(if s.detail.is_empty() {
            s.kind.clone()
        } else {
            format!("{} {}", s.kind, s.detail)
        }),
        kind: symbol_kind(&s.kind),
        tags: None,
        deprecated: None,
        range,
        selection_range,
        children: (!children.is_empty()).then_some(children),
    })
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Applies one change to a document's text (a whole text when it has no range).
fn apply_change(text: &mut String, change: TextDocumentContentChangeEvent) {
    match change.range {
        None => *text = change.text,
        Some(r) => {
            let src = SourceFile::new("", std::mem::take(text));
            let a = src.offset_utf16(r.start.line as usize, r.start.character as usize);
            let b = src.offset_utf16(r.end.line as usize, r.end.character as usize);
            let mut t = src.text;
            let (a, b) = (a.min(b), a.max(b));
            t.replace_range(a..b, &change.text);
            *text = t;
        }
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, _: InitializeParams) -> Result<InitializeResult> {
        Ok(InitializeResult {
            server_info: Some(ServerInfo {
                name: "scalec-lsp".into(),
                version: Some(scalec::VERSION.into()),
            }),
            capabilities: ServerCapabilities {
                position_encoding: Some(PositionEncodingKind::UTF16),
                text_document_sync: Some(TextDocumentSyncCapability::Kind(
                    TextDocumentSyncKind::INCREMENTAL,
                )),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                definition_provider: Some(OneOf::Left(true)),
                references_provider: Some(OneOf::Left(true)),
                document_symbol_provider: Some(OneOf::Left(true)),
                document_formatting_provider: Some(OneOf::Left(true)),
                rename_provider: Some(OneOf::Right(RenameOptions {
                    prepare_provider: Some(true),
                    work_done_progress_options: Default::default(),
                })),
                code_action_provider: Some(CodeActionProviderCapability::Options(
                    CodeActionOptions {
                        code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
                        ..Default::default()
                    },
                )),
                completion_provider: Some(CompletionOptions {
                    trigger_characters: Some(vec![".".into(), "(".into(), "{".into()]),
                    ..Default::default()
                }),
                semantic_tokens_provider: Some(
                    SemanticTokensServerCapabilities::SemanticTokensOptions(
                        SemanticTokensOptions {
                            legend: SemanticTokensLegend {
                                token_types: TOKEN_TYPES.to_vec(),
                                token_modifiers: TOKEN_MODIFIERS.to_vec(),
                            },
                            full: Some(SemanticTokensFullOptions::Bool(true)),
                            range: None,
                            work_done_progress_options: Default::default(),
                        },
                    ),
                ),
                ..Default::default()
            },
            offset_encoding: None,
        })
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let key = key_of(&params.text_document.uri);
        self.state().docs.insert(
            key.clone(),
            Doc {
                uri: params.text_document.uri,
                text: params.text_document.text,
                version: params.text_document.version,
            },
        );
        let list = self.recheck(&key);
        self.publish(list).await;
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let key = key_of(&params.text_document.uri);
        {
            let mut st = self.state();
            let Some(doc) = st.docs.get_mut(&key) else {
                return;
            };
            for change in params.content_changes {
                apply_change(&mut doc.text, change);
            }
            doc.version = params.text_document.version;
        }
        let list = self.recheck(&key);
        self.publish(list).await;
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let key = key_of(&params.text_document.uri);
        let recheck: Vec<String> = {
            let mut st = self.state();
            st.docs.remove(&key);
            st.parses.remove(&key);
            let closed = st.units.remove(&key);
            // The units that use the closed file (read from disk again),
            // and the open files its unit answered for (now their own).
            let mut keys: Vec<String> = st
                .units
                .iter()
                .filter(|(_, u)| u.file_of(&key).is_some())
                .map(|(e, _)| e.clone())
                .collect();
            if let Some(u) = closed {
                keys.extend(
                    u.real
                        .iter()
                        .filter(|f| !f.std && f.key != key && st.docs.contains_key(&f.key))
                        .map(|f| f.key.clone()),
                );
            }
            keys.sort();
            keys.dedup();
            keys
        };
        if self.state().owner(&key).is_none() {
            self.client
                .publish_diagnostics(params.text_document.uri, Vec::new(), None)
                .await;
        }
        for e in recheck {
            let list = self.recheck(&e);
            self.publish(list).await;
        }
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        // A file changed on disk: the units that read it (not an open
        // buffer: its text is the editor's) check it again.
        for change in params.changes {
            let key = key_of(&change.uri);
            let used = {
                let st = self.state();
                !st.docs.contains_key(&key) && st.units.values().any(|u| u.file_of(&key).is_some())
            };
            if used {
                let list = self.recheck(&key);
                self.publish(list).await;
            }
        }
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let Some((unit, ri, file, offset)) = self.at(&params.text_document_position_params) else {
            return Ok(None);
        };
        Ok(query::hover(&unit.c, file, offset).map(|h| Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value: h.markdown,
            }),
            range: unit
                .resolve(h.span)
                .filter(|(r, _, _)| *r == ri)
                .map(|(r, a, b)| unit.range(r, a, b)),
        }))
    }

    async fn goto_definition(
        &self,
        params: GotoDefinitionParams,
    ) -> Result<Option<GotoDefinitionResponse>> {
        let Some((unit, _, file, offset)) = self.at(&params.text_document_position_params) else {
            return Ok(None);
        };
        Ok(query::definition_at(&unit.c, file, offset)
            .and_then(|d| unit.location(d.span))
            .map(GotoDefinitionResponse::Scalar))
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        let Some((unit, _, file, offset)) = self.at(&params.text_document_position) else {
            return Ok(None);
        };
        let Some(def) = query::definition_at(&unit.c, file, offset) else {
            return Ok(None);
        };
        let spans = query::references(&unit.c, def.decl);
        let skip = usize::from(!params.context.include_declaration);
        Ok(Some(
            spans
                .into_iter()
                .skip(skip)
                .filter_map(|s| unit.location(s))
                .collect(),
        ))
    }

    async fn prepare_rename(
        &self,
        params: TextDocumentPositionParams,
    ) -> Result<Option<PrepareRenameResponse>> {
        let Some((unit, ri, file, offset)) = self.at(&params) else {
            return Ok(None);
        };
        let Some(def) = query::definition_at(&unit.c, file, offset) else {
            return Ok(None);
        };
        if unit.is_std(def.span) {
            return Err(Error::invalid_params(format!(
                "`{}` is declared in the standard library; it cannot be renamed",
                def.name
            )));
        }
        let span = query::references(&unit.c, def.decl)
            .into_iter()
            .find(|s| s.file == file && s.start as usize <= offset && offset <= s.end as usize);
        Ok(span
            .and_then(|s| unit.resolve(s))
            .map(|(_, a, b)| PrepareRenameResponse::Range(unit.range(ri, a, b))))
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        let Some((unit, _, file, offset)) = self.at(&params.text_document_position) else {
            return Ok(None);
        };
        let Some(def) = query::definition_at(&unit.c, file, offset) else {
            return Ok(None);
        };
        if !is_identifier(&params.new_name) {
            return Err(Error::invalid_params(format!(
                "`{}` is not a name: a letter or `_`, then letters, digits or `_`",
                params.new_name
            )));
        }
        let spans = query::references(&unit.c, def.decl);
        if spans.iter().any(|s| unit.is_std(*s)) {
            return Err(Error::invalid_params(format!(
                "`{}` is declared in the standard library; it cannot be renamed",
                def.name
            )));
        }
        let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
        for s in spans {
            let Some(loc) = unit.location(s) else {
                continue;
            };
            changes.entry(loc.uri).or_default().push(TextEdit {
                range: loc.range,
                new_text: params.new_name.clone(),
            });
        }
        Ok(Some(WorkspaceEdit {
            changes: Some(changes),
            ..Default::default()
        }))
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let Some((unit, ri, file, offset)) = self.at(&params.text_document_position) else {
            return Ok(None);
        };
        let text = &unit.c.project.sources.get(file).text;
        let real = unit.offset(ri, params.text_document_position.position);
        // Each item replaces what is typed of it before the cursor (a unit
        // after a number: only the letters), so the client filters on that
        // whatever it takes for a word.
        let typed = |unit_suffix: bool| -> usize {
            text.get(..offset).map_or(0, |before| {
                before
                    .chars()
                    .rev()
                    .take_while(|c| {
                        if unit_suffix {
                            c.is_ascii_alphabetic() || matches!(c, '%' | '/')
                        } else {
                            c.is_ascii_alphanumeric() || *c == '_'
                        }
                    })
                    .map(char::len_utf8)
                    .sum()
            })
        };
        let items = query::completions(&unit.c, file, offset)
            .into_iter()
            .map(|c| {
                let len = typed(c.kind == CompletionKind::Unit);
                CompletionItem {
                    kind: Some(match c.kind {
                        CompletionKind::Keyword => CompletionItemKind::KEYWORD,
                        CompletionKind::Field => CompletionItemKind::FIELD,
                        CompletionKind::Name => CompletionItemKind::REFERENCE,
                        CompletionKind::Value => CompletionItemKind::ENUM_MEMBER,
                        CompletionKind::Unit => CompletionItemKind::UNIT,
                    }),
                    detail: (!c.detail.is_empty()).then_some(c.detail),
                    text_edit: Some(CompletionTextEdit::Edit(TextEdit {
                        range: unit.range(ri, real - len, real),
                        new_text: c.label.clone(),
                    })),
                    filter_text: Some(c.label.clone()),
                    label: c.label,
                    ..Default::default()
                }
            })
            .collect();
        Ok(Some(CompletionResponse::Array(items)))
    }

    async fn document_symbol(
        &self,
        params: DocumentSymbolParams,
    ) -> Result<Option<DocumentSymbolResponse>> {
        let Some((unit, ri)) = self.unit_at(&params.text_document.uri) else {
            return Ok(None);
        };
        let symbols = unit
            .chunk_ids(ri)
            .flat_map(|file| query::document_symbols(&unit.c, file))
            .filter_map(|s| document_symbol(&unit, &s))
            .collect();
        Ok(Some(DocumentSymbolResponse::Nested(symbols)))
    }

    async fn semantic_tokens_full(
        &self,
        params: SemanticTokensParams,
    ) -> Result<Option<SemanticTokensResult>> {
        let Some((unit, ri)) = self.unit_at(&params.text_document.uri) else {
            return Ok(None);
        };
        Ok(Some(SemanticTokensResult::Tokens(SemanticTokens {
            result_id: None,
            data: semantic_tokens(&unit, ri),
        })))
    }

    async fn formatting(&self, params: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        let key = key_of(&params.text_document.uri);
        let Some(text) = self.state().docs.get(&key).map(|d| d.text.clone()) else {
            return Ok(None);
        };
        let body = text.strip_prefix('\u{FEFF}').unwrap_or(&text);
        // A file with syntax errors is left as it is (its diagnostics say why).
        let Ok(new) = scalec::syntax::format::format(body) else {
            return Ok(None);
        };
        if new == text {
            return Ok(Some(Vec::new()));
        }
        let src = SourceFile::new("", text);
        let (line, col) = src.line_col_utf16(src.text.len());
        Ok(Some(vec![TextEdit {
            range: Range::new(Position::new(0, 0), Position::new(line as u32, col as u32)),
            new_text: new,
        }]))
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let Some((unit, ri)) = self.unit_at(&params.text_document.uri) else {
            return Ok(None);
        };
        // Only quick fixes are offered: a client asking for other kinds gets none.
        if let Some(only) = &params.context.only {
            if !only
                .iter()
                .any(|k| CodeActionKind::QUICKFIX.as_str().starts_with(k.as_str()))
            {
                return Ok(Some(Vec::new()));
            }
        }
        let a = unit.offset(ri, params.range.start);
        let b = unit.offset(ri, params.range.end);
        let cache = self.cache();
        let mut actions = Vec::new();
        for d in &unit.c.diagnostics {
            let Some((r, s, e)) = d.primary_span().and_then(|s| unit.resolve(s)) else {
                continue;
            };
            if r != ri || e < a || s > b {
                continue;
            }
            for fix in &d.fixes {
                let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
                for e in &fix.edits {
                    let Some(loc) = unit.edit_location(e.span) else {
                        continue;
                    };
                    changes.entry(loc.uri).or_default().push(TextEdit {
                        range: loc.range,
                        new_text: e.replacement.clone(),
                    });
                }
                let diag = to_lsp_diagnostic(d, &unit, cache.explain.get(d.code.as_str()));
                actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                    title: fix.message.clone(),
                    kind: Some(CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![diag]),
                    edit: Some(WorkspaceEdit {
                        changes: Some(changes),
                        ..Default::default()
                    }),
                    is_preferred: Some(d.fixes.len() == 1),
                    ..Default::default()
                }));
            }
        }
        Ok(Some(actions))
    }
}

/// Serves the language server on stdin/stdout until the client says `exit`.
pub fn run_stdio() -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    rt.block_on(async {
        let (service, socket) = LspService::new(Backend::new);
        Server::new(tokio::io::stdin(), tokio::io::stdout(), socket)
            .serve(service)
            .await;
    });
    Ok(())
}
