//! OpenAPI contracts and request-body JSON Schemas (S1301–S1399): a gate's
//! `contract = "openapi.yaml"` and a route's `body = "schemas/x.json"`.

use super::{Code, Diagnostic, Fix, Span};

/// What kind of file a diagnostic is about.
fn what(is_contract: bool) -> &'static str {
    if is_contract {
        "contract"
    } else {
        "body schema"
    }
}

/// A contract or body schema that cannot be read, is too large, is not
/// UTF-8, or does not parse as YAML/JSON. `reason` is the reader's or
/// parser's words (with a line and column where it has them).
pub fn contract_unreadable(path: &str, is_contract: bool, reason: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::ContractUnreadable,
        format!(
            "cannot read the {} \"{}\": {reason}",
            what(is_contract),
            path.escape_debug()
        ),
    )
    .primary(span, format!("this {}", what(is_contract)))
    .help(if is_contract {
        "give the path, relative to the project root, of an OpenAPI 3.0 or 3.1 document in YAML or JSON (`.json` is read as JSON, any other name as YAML)"
    } else {
        "give the path, relative to the project root, of a JSON Schema in JSON or YAML (`.json` is read as JSON, any other name as YAML)"
    })
}

/// A contract whose `openapi` field is not 3.0.x or 3.1.x (Swagger 2.0
/// included), or whose `paths` is not a map.
pub fn contract_not_openapi(path: &str, found: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::ContractNotOpenApi,
        format!(
            "the contract \"{}\" is not an OpenAPI 3.0 or 3.1 document: {found}",
            path.escape_debug()
        ),
    )
    .primary(span, "this contract")
    .help("scalec reads OpenAPI 3.0 and 3.1 (`openapi: 3.0.3`, `openapi: 3.1.0`) with a `paths` map; convert a Swagger 2.0 file first (for example with swagger2openapi)")
}

/// A route whose path template is not in the contract. `nearest` is the
/// closest contract path serving the route's method, offered as a fix
/// when `fixable`.
pub fn route_not_in_contract(
    method: &str,
    path: &str,
    contract: &str,
    nearest: Option<(&str, bool)>,
    span: Span,
) -> Diagnostic {
    let d = Diagnostic::error(
        Code::RouteNotInContract,
        format!(
            "the route {method} \"{}\" is not in the contract \"{}\"",
            path.escape_debug(),
            contract.escape_debug()
        ),
    )
    .primary(span, format!("no such path in {}", contract.escape_debug()));
    match nearest {
        Some((n, fixable)) => {
            let d = d.help(format!(
                "did you mean \"{}\", the contract's nearest path with {method}? Otherwise add the path to the contract",
                n.escape_debug()
            ));
            if fixable {
                d.fix(Fix::replace(
                    format!("use the contract's path \"{n}\""),
                    span,
                    format!("\"{n}\""),
                ))
            } else {
                d
            }
        }
        None => d.help("add the path to the contract's `paths`, or correct the route's path (path parameters match by position: `{id}` matches `{ticketId}`)"),
    }
}

/// A route whose path is in the contract, but not with its method.
pub fn method_not_in_contract(
    method: &str,
    path: &str,
    contract: &str,
    has: &[String],
    span: Span,
) -> Diagnostic {
    Diagnostic::error(
        Code::MethodNotInContract,
        format!(
            "the contract \"{}\" has no {method} for \"{}\"",
            contract.escape_debug(),
            path.escape_debug()
        ),
    )
    .primary(span, format!("{method} is not in the contract for this path"))
    .help(format!(
        "the contract has {} for this path; change the route's method, or add `{}:` under the path in the contract",
        has.join(", "),
        method.to_ascii_lowercase()
    ))
}

/// An operation of the contract that no route of the spec serves (so no
/// budget covers it). `at` is `file:line` where the loader found it.
pub fn contract_operation_unused(method: &str, path: &str, at: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        Code::ContractOperationUnused,
        format!(
            "the contract's {method} \"{}\" ({}) has no route in the spec, so no budget",
            path.escape_debug(),
            at.escape_debug()
        ),
    )
    .primary(
        span,
        format!(
            "{method} \"{}\" is not served by any route",
            path.escape_debug()
        ),
    )
    .help("add a route for it (with its budget), or remove the operation from the contract")
}

/// A body schema (or a schema in the contract) that is not a valid JSON
/// Schema: `pointer` is where, `problem` what.
pub fn invalid_body_schema(file: &str, pointer: &str, problem: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::InvalidBodySchema,
        format!(
            "\"{}\" is not a valid JSON Schema at {}: {problem}",
            file.escape_debug(),
            if pointer.is_empty() { "its root" } else { pointer }
        ),
    )
    .primary(span, "this schema")
    .help("a schema is an object or a boolean; `type` is one of null, boolean, object, array, number, string, integer (or a list of them); `properties` is a map of schemas; `required` is a list of names; a `$ref` starting with `#` must point at a schema in the same file")
}

/// A route's body schema that the contract's `requestBody` does not agree
/// with (`differences` are the notes: JSON pointers and what differs).
pub fn body_schema_mismatch(
    method: &str,
    path: &str,
    body: &str,
    contract: &str,
    problem: &str,
    differences: &[String],
    span: Span,
) -> Diagnostic {
    let mut d = Diagnostic::error(
        Code::BodySchemaMismatch,
        format!(
            "the body schema \"{}\" of {method} \"{}\" disagrees with the contract \"{}\": {problem}",
            body.escape_debug(),
            path.escape_debug(),
            contract.escape_debug()
        ),
    )
    .primary(span, "this body schema")
    .help(format!(
        "make the contract's requestBody (its application/json schema) state the same types, properties and required names as the body schema, or refer to the file itself (`$ref: {}`, relative to the contract)",
        body.escape_debug()
    ));
    for diff in differences {
        d = d.note(diff.clone());
    }
    d
}
