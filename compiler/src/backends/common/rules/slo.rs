//! SLO rules with the semantics of Sloth and the SRE workbook's
//! multiwindow, multi-burn-rate alerts.
//!
//! For every SLO, three groups:
//!
//! 1. **SLI recordings** — `slo:sli_error:ratio_rate<w>` for every window
//!    any alert uses (5m, 30m, 1h, 2h, 6h, 1d, 3d for the default policy):
//!    the share of bad events over that window. Then the period ratio
//!    `slo:sli_error:ratio_rate<period>`, which — as in Sloth — is the mean
//!    of the shortest window's ratio over the period (cheap: it reads the
//!    recorded series, not 30 days of raw counters).
//! 2. **Meta recordings** — `slo:objective:ratio`, `slo:error_budget:ratio`,
//!    `slo:time_period:days`, `slo:current_burn_rate:ratio` (shortest window
//!    over budget), `slo:period_burn_rate:ratio` and
//!    `slo:period_error_budget_remaining:ratio`.
//! 3. **Alerts** — one rule per severity, named `<Slo>ErrorBudgetBurn` with
//!    a `severity` label as the app's `alert_severities` name it (by
//!    default as kube-prometheus routes it: a `page` is `critical`, a
//!    `ticket` `warning`); it fires when, for any of that
//!    severity's window pairs, the error ratio over both the short and the
//!    long window is above `factor × (1 − objective)`. No `for:` by default
//!    (the short window already resets the alert quickly), as in Sloth; the
//!    SLO's `for` sets one on these alerts. And
//!    `<Slo>SliMissing` (the ticket severity): the SLI's total series has been
//!    absent for 10 minutes, so the SLO reads nothing (as in Pyrra).
//!
//! Every recorded series carries the identity labels `app`, `service`,
//! `slo` and, for a route's SLO, `route` (the route's name); SLI ratios add
//! `window`. Selectors between the rules use `app`, `service` and `slo`.
//!
//! The SLIs:
//! - availability: `rate(<requests>{<service>, [<route_label>=<path>], <status>=~"5.."})`
//!   over `rate(<requests>{…})`; the regex comes from `error_status_min`
//!   ([`promql::status_at_least`]). The error side is `or vector(0)`: a
//!   service that has never answered a 5xx has no such series yet, and
//!   without the fallback its SLI would be missing rather than 0 (which would
//!   also bias the period mean towards bad minutes).
//! - latency: `(rate(<hist>_count) − rate(<hist>_bucket{le="<threshold s>"}))
//!   / rate(<hist>_count)`, with `le` as the Go client writes it
//!   ([`promql::le_matcher`]).
//!
//! The route label holds the route's path template (`/v1/search`), which is
//! what OpenTelemetry's `http.route` records.

use super::{Rule, RuleFile, RuleGroup};
use crate::backends::common::promql::{self, Matcher};
use crate::diagnostics::{catalog, Diagnostic};
use crate::ir::{BurnWindow, Entity, Ir, Sli, Slo};
use std::collections::BTreeMap;

/// Where an SLO's events come from.
#[derive(Debug, Clone, PartialEq)]
pub enum SliSource {
    Availability {
        /// The requests counter.
        requests: String,
        /// Service (and route) matchers.
        base: Vec<Matcher>,
        status_label: String,
        /// The statuses counted as errors, as a regex (`429|5..`).
        errors_regex: String,
        /// A status that is an error, and one that is not (for tests).
        error_example: u16,
        ok_example: u16,
    },
    Latency {
        /// The histogram's base name (without `_bucket`).
        histogram: String,
        base: Vec<Matcher>,
        threshold_ms: f64,
    },
}

/// The alert windows of one severity, in the order written.
#[derive(Debug, Clone, PartialEq)]
pub struct Severity<'a> {
    /// The `severity` label Alertmanager routes on (the app's
    /// `alert_severities`: `critical` for a page, `warning` for a ticket by
    /// default).
    pub name: String,
    /// What the spec says: `page` or `ticket`.
    pub urgency: &'static str,
    pub windows: Vec<&'a BurnWindow>,
}

/// How long the SLI's series must be gone before the missing-data alert
/// fires.
pub const MISSING_FOR_MS: u64 = 600_000;

/// Everything derived from one SLO, shared by the rules and their tests.
#[derive(Debug, Clone, PartialEq)]
pub struct SloPlan<'a> {
    pub slo: &'a Slo,
    /// `app`, `service`, `slo` and (for a route's SLO) `route`.
    pub labels: BTreeMap<String, String>,
    /// Every alert window in ms, ascending, without duplicates; always
    /// holds at least the base window.
    pub windows_ms: Vec<u64>,
    /// The shortest window: its ratio feeds the period mean and the
    /// current burn rate.
    pub base_ms: u64,
    pub period_ms: u64,
    pub alert_name: String,
    pub severities: Vec<Severity<'a>>,
    pub sli: SliSource,
    /// Labels for Alertmanager routing on every alert of this SLO: `team`
    /// (the app's owner), the app's `alert_labels`, the SLO's `labels`,
    /// later ones winning.
    pub routing_labels: BTreeMap<String, String>,
    /// The `severity` of a ticket (the missing-data alert's).
    pub ticket_severity: String,
    /// The burn-rate alerts' `for`, in ms (0: none).
    pub for_ms: u64,
}

/// The error statuses of an availability SLI: the exact codes, then the
/// class from `min` up (`429|5..`), as a regex of three-digit codes; a
/// status that matches and one that does not.
pub fn error_statuses(min: Option<u16>, codes: &[u16]) -> (String, u16, u16) {
    let mut alts: Vec<String> = codes
        .iter()
        .filter(|c| min.is_none_or(|m| **c < m))
        .map(|c| c.clamp(&100, &599).to_string())
        .collect();
    if let Some(m) = min {
        alts.push(promql::status_at_least(m));
    }
    if alts.is_empty() {
        // An IR written by hand: nothing is an error.
        alts.push("600".to_string());
    }
    let is_error = |s: u16| codes.contains(&s) || min.is_some_and(|m| s >= m);
    let error_example = codes
        .first()
        .copied()
        .or(min)
        .unwrap_or(600)
        .clamp(100, 599);
    let ok_example = [200, 204, 201, 202, 302, 100]
        .into_iter()
        .find(|s| !is_error(*s))
        .unwrap_or(299);
    (alts.join("|"), error_example, ok_example)
}

/// `api_availability` → `ApiAvailability`.
pub(crate) fn camel(name: &str) -> String {
    let mut out = String::new();
    for part in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "Slo");
    }
    out
}

/// The value of a service's `service_label` on the series it exports, as
/// they are scraped in the app's namespace: a ServiceMonitor names `job`
/// after the Kubernetes Service, a worker's PodMonitor `<namespace>/<name>`
/// (the Prometheus Operator's default for a PodMonitor without
/// `jobLabel`); a binding's own `service = "…"` wins.
pub(crate) fn service_value(ir: &Ir, service: &crate::ir::Service) -> String {
    let m = &service.metrics;
    match &m.service_value {
        Some(v) => v.clone(),
        None if m.service_label == "job" => {
            let name = super::super::k8s_names::service_name(&ir.services, &service.name);
            if service.kind == crate::ir::ServiceKind::Worker {
                format!("{}/{name}", ir.app.namespace())
            } else {
                name
            }
        }
        None => service.name.clone(),
    }
}

impl<'a> SloPlan<'a> {
    /// The plan of one SLO; a diagnostic at the SLO when the IR does not
    /// hold the service it names (a checked IR always does; a hand-made or
    /// edited `ir.json` may not).
    /// The service whose traffic `slo` measures: the one way a plan can
    /// fail ([`crate::backends::check_slos`] checks every SLO with it,
    /// without making the plans).
    pub fn service_of(ir: &'a Ir, slo: &Slo) -> Result<&'a crate::ir::Service, Box<Diagnostic>> {
        ir.service(&slo.service).ok_or_else(|| {
            Box::new(crate::backends::diagnostic_at(
                ir,
                &Entity::Slo(slo.name.clone()),
                catalog::slo_service_not_in_ir(&slo.name, &slo.service),
                "this SLO",
            ))
        })
    }

    pub fn new(ir: &'a Ir, slo: &'a Slo) -> Result<Self, Box<Diagnostic>> {
        let service = Self::service_of(ir, slo)?;
        Ok(Self::with_service(
            ir,
            slo,
            service,
            service_value(ir, service),
        ))
    }

    /// The plan of `slo`, measuring `service`, whose series carry `value`
    /// in the service label (see [`service_value`]).
    pub fn with_service(
        ir: &'a Ir,
        slo: &'a Slo,
        service: &'a crate::ir::Service,
        value: String,
    ) -> Self {
        let m = &service.metrics;
        let mut base = vec![
            Matcher::eq("namespace", &ir.app.namespace()),
            Matcher::eq(&m.service_label, &value),
        ];
        let mut labels = BTreeMap::new();
        labels.insert("app".to_string(), ir.app.name.clone());
        labels.insert("service".to_string(), slo.service.clone());
        labels.insert("slo".to_string(), slo.name.clone());
        if let Some(route) = &slo.route {
            // The IR names the route; the series carry its path template.
            // A route is a method and a path: `POST /v1/orders` does not
            // count `GET /v1/orders`.
            let found = service
                .routes
                .iter()
                .find(|r| &r.name == route || &r.path == route);
            let path = found
                .map(|r| r.path.clone())
                .unwrap_or_else(|| route.clone());
            base.push(Matcher::eq(&m.route_label, &path));
            if let Some(r) = found {
                base.push(Matcher::eq(&m.method_label, r.method.as_str()));
            }
            labels.insert("route".to_string(), route.clone());
        }
        let sli = match slo.sli {
            Sli::Availability {
                error_status_min,
                ref error_codes,
            } => {
                let (errors_regex, error_example, ok_example) =
                    error_statuses(error_status_min, error_codes);
                SliSource::Availability {
                    requests: m.requests.clone(),
                    base,
                    status_label: m.status_label.clone(),
                    errors_regex,
                    error_example,
                    ok_example,
                }
            }
            Sli::Latency { threshold_ms } => SliSource::Latency {
                histogram: m.latency_histogram.clone(),
                base,
                threshold_ms,
            },
        };
        let period_ms = slo.window_ms.round() as u64;
        let mut windows_ms: Vec<u64> = slo
            .alerts
            .windows
            .iter()
            .flat_map(|w| [w.short_ms.round() as u64, w.long_ms.round() as u64])
            .filter(|w| *w != period_ms && *w > 0)
            .collect();
        if windows_ms.is_empty() {
            windows_ms.push(300_000);
        }
        windows_ms.sort_unstable();
        windows_ms.dedup();
        let mut severities: Vec<Severity<'a>> = Vec::new();
        for w in &slo.alerts.windows {
            let name = ir.app.alert_severities.of(w.severity);
            match severities.iter_mut().find(|s| s.name == name) {
                Some(s) => s.windows.push(w),
                None => severities.push(Severity {
                    name: name.to_string(),
                    urgency: w.severity.as_str(),
                    windows: vec![w],
                }),
            }
        }
        let mut routing_labels = BTreeMap::new();
        if let Some(owner) = &ir.app.owner {
            routing_labels.insert("team".to_string(), owner.clone());
        }
        routing_labels.extend(ir.app.alert_labels.clone());
        routing_labels.extend(slo.labels.clone());
        SloPlan {
            routing_labels,
            ticket_severity: ir.app.alert_severities.ticket.clone(),
            for_ms: slo.for_ms.map_or(0, |f| f.round().max(0.0) as u64),
            slo,
            labels,
            base_ms: windows_ms[0],
            windows_ms,
            period_ms,
            alert_name: format!("{}ErrorBudgetBurn", camel(&slo.name)),
            severities,
            sli,
        }
    }

    pub fn sli_group_name(&self) -> String {
        format!("scalec-slo-sli-recordings-{}", self.slo.name)
    }

    pub fn meta_group_name(&self) -> String {
        format!("scalec-slo-meta-recordings-{}", self.slo.name)
    }

    pub fn alert_group_name(&self) -> String {
        format!("scalec-slo-alerts-{}", self.slo.name)
    }

    /// The groups in evaluation order.
    pub fn group_names(&self) -> Vec<String> {
        let mut names = vec![self.sli_group_name(), self.meta_group_name()];
        if !self.severities.is_empty() {
            names.push(self.alert_group_name());
        }
        names
    }

    /// `slo:sli_error:ratio_rate5m`
    pub fn sli_record(ms: u64) -> String {
        format!("slo:sli_error:ratio_rate{}", promql::duration(ms as f64))
    }

    /// The selector of this SLO's recorded series.
    pub fn select(&self, record: &str) -> String {
        let matchers: Vec<Matcher> = ["app", "service", "slo"]
            .iter()
            .map(|l| Matcher::eq(l, &self.labels[*l]))
            .collect();
        promql::selector(record, &matchers)
    }

    /// The error budget as PromQL: `(1 - 0.999)`.
    pub fn budget_expr(&self) -> String {
        format!("(1 - {})", promql::num(self.slo.objective))
    }

    /// The alert threshold for a factor: `(14.4 * (1 - 0.999))`.
    pub fn threshold_expr(&self, factor: f64) -> String {
        format!("({} * {})", promql::num(factor), self.budget_expr())
    }

    /// The bad-event ratio over one window, from raw series.
    pub fn sli_expr(&self, ms: u64) -> String {
        let w = promql::duration(ms as f64);
        match &self.sli {
            SliSource::Availability {
                requests,
                base,
                status_label,
                errors_regex,
                ..
            } => {
                let mut errors = base.clone();
                errors.push(Matcher::re(status_label, errors_regex));
                format!(
                    "(\n  sum(rate({}[{w}]))\n  or vector(0)\n)\n/\nsum(rate({}[{w}]))",
                    promql::selector(requests, &errors),
                    promql::selector(requests, base),
                )
            }
            SliSource::Latency {
                histogram,
                base,
                threshold_ms,
            } => {
                let count = promql::selector(&format!("{histogram}_count"), base);
                let mut good = base.clone();
                good.push(promql::le_matcher(*threshold_ms));
                let good = promql::selector(&format!("{histogram}_bucket"), &good);
                format!(
                    "(\n  sum(rate({count}[{w}]))\n  -\n  sum(rate({good}[{w}]))\n)\n/\nsum(rate({count}[{w}]))"
                )
            }
        }
    }

    /// The burn rate over one window, from raw series: the bad-event ratio
    /// of [`Self::sli_expr`] (the very expression the SLI recordings use)
    /// over the error budget, as `slo:current_burn_rate:ratio` divides the
    /// recorded ratio by `slo:error_budget:ratio`. `scalec gate burn`'s
    /// query (`ci/burn.promql`) is built from it.
    pub fn burn_rate_expr(&self, ms: u64) -> String {
        format!("(\n{}\n)\n/\n{}", self.sli_expr(ms), self.budget_expr())
    }

    fn labels_with(&self, extra: &[(&str, String)]) -> BTreeMap<String, String> {
        let mut l = self.labels.clone();
        for (k, v) in extra {
            l.insert(k.to_string(), v.clone());
        }
        l
    }

    fn sli_group(&self) -> RuleGroup {
        let mut rules: Vec<Rule> = self
            .windows_ms
            .iter()
            .map(|&ms| {
                Rule::record(
                    Self::sli_record(ms),
                    self.sli_expr(ms),
                    self.labels_with(&[("window", promql::duration(ms as f64))]),
                )
            })
            .collect();
        let base = self.select(&Self::sli_record(self.base_ms));
        let period = promql::duration(self.period_ms as f64);
        rules.push(Rule::record(
            Self::sli_record(self.period_ms),
            format!(
                "sum_over_time({base}[{period}])\n/ ignoring (window)\ncount_over_time({base}[{period}])"
            ),
            self.labels_with(&[("window", period)]),
        ));
        RuleGroup {
            name: self.sli_group_name(),
            rules,
        }
    }

    fn meta_group(&self) -> RuleGroup {
        let l = self.labels.clone();
        let budget = self.select("slo:error_budget:ratio");
        let days = self.period_ms as f64 / 86_400_000.0;
        RuleGroup {
            name: self.meta_group_name(),
            rules: vec![
                Rule::record(
                    "slo:objective:ratio",
                    format!("vector({})", promql::num(self.slo.objective)),
                    l.clone(),
                ),
                Rule::record(
                    "slo:error_budget:ratio",
                    format!("vector{}", self.budget_expr()),
                    l.clone(),
                ),
                Rule::record(
                    "slo:time_period:days",
                    format!("vector({})", promql::num(days)),
                    l.clone(),
                ),
                Rule::record(
                    "slo:current_burn_rate:ratio",
                    format!(
                        "{}\n/ on (app, service, slo)\n{budget}",
                        self.select(&Self::sli_record(self.base_ms))
                    ),
                    l.clone(),
                ),
                Rule::record(
                    "slo:period_burn_rate:ratio",
                    format!(
                        "{}\n/ on (app, service, slo)\n{budget}",
                        self.select(&Self::sli_record(self.period_ms))
                    ),
                    l.clone(),
                ),
                Rule::record(
                    "slo:period_error_budget_remaining:ratio",
                    format!("1 - {}", self.select("slo:period_burn_rate:ratio")),
                    l,
                ),
            ],
        }
    }

    /// The labels an alert of `severity` carries (identity labels, as the
    /// expression keeps them, plus `severity`).
    pub fn alert_labels(&self, severity: &str) -> BTreeMap<String, String> {
        let mut l = self.labels_with(&[("severity", severity.to_string())]);
        l.extend(self.routing_labels.clone());
        l
    }

    /// The labels an alerting rule sets: `severity` and the routing labels.
    fn rule_labels(&self, severity: &str) -> BTreeMap<String, String> {
        let mut l = self.routing_labels.clone();
        l.insert("severity".to_string(), severity.to_string());
        l
    }

    /// `runbook_url` and the SLO's own annotations (which may replace
    /// `summary` and `description`).
    fn with_spec_annotations(&self, mut a: BTreeMap<String, String>) -> BTreeMap<String, String> {
        if let Some(url) = &self.slo.runbook {
            a.insert("runbook_url".to_string(), url.clone());
        }
        a.extend(self.slo.annotations.clone());
        a
    }

    fn target(&self) -> String {
        match &self.slo.route {
            Some(r) => format!("{}.{r}", self.slo.service),
            None => self.slo.service.clone(),
        }
    }

    pub fn alert_annotations(&self, sev: &Severity) -> BTreeMap<String, String> {
        let what = match &self.slo.sli {
            Sli::Availability {
                error_status_min,
                error_codes,
            } => {
                let (regex, _, _) = error_statuses(*error_status_min, error_codes);
                format!(
                    "{} requests answered without an error status ({regex})",
                    self.target()
                )
            }
            Sli::Latency { threshold_ms } => format!(
                "{} requests faster than {}",
                self.target(),
                promql::duration(*threshold_ms)
            ),
        };
        let pairs: Vec<String> = sev
            .windows
            .iter()
            .map(|w| {
                format!(
                    "{}x over {} and {}",
                    promql::num(w.factor),
                    promql::duration(w.long_ms),
                    promql::duration(w.short_ms)
                )
            })
            .collect();
        let mut a = BTreeMap::new();
        a.insert(
            "summary".to_string(),
            format!(
                "SLO {} is burning its error budget too fast ({})",
                self.slo.name, sev.urgency
            ),
        );
        a.insert(
            "description".to_string(),
            format!(
                "SLO {}: {}% of {} over {}. The error budget burns at {}.",
                self.slo.name,
                promql::num(self.slo.objective * 100.0),
                what,
                promql::duration(self.period_ms as f64),
                pairs.join(", or ")
            ),
        );
        self.with_spec_annotations(a)
    }

    fn alert_expr(&self, sev: &Severity) -> String {
        let parts: Vec<String> = sev
            .windows
            .iter()
            .map(|w| {
                let t = self.threshold_expr(w.factor);
                let short = self.select(&Self::sli_record(w.short_ms.round() as u64));
                let long = self.select(&Self::sli_record(w.long_ms.round() as u64));
                format!(
                    "(\n  max without (window) ({short} > {t})\n  and\n  max without (window) ({long} > {t})\n)"
                )
            })
            .collect();
        parts.join("\nor\n")
    }

    /// `<Slo>SliMissing`
    pub fn missing_alert_name(&self) -> String {
        format!("{}SliMissing", camel(&self.slo.name))
    }

    /// The series the SLI divides by: when it is gone, the SLO reads nothing.
    pub fn total_selector(&self) -> String {
        match &self.sli {
            SliSource::Availability { requests, base, .. } => promql::selector(requests, base),
            SliSource::Latency {
                histogram, base, ..
            } => promql::selector(&format!("{histogram}_count"), base),
        }
    }

    fn base_matchers(&self) -> &[Matcher] {
        match &self.sli {
            SliSource::Availability { base, .. } | SliSource::Latency { base, .. } => base,
        }
    }

    /// The labels the missing-data alert carries: `absent()` keeps the
    /// selector's equality matchers, the rule adds the identity labels and
    /// a ticket's severity.
    pub fn missing_alert_labels(&self) -> BTreeMap<String, String> {
        let mut l = self.alert_labels(&self.ticket_severity);
        for m in self.base_matchers() {
            if m.op == promql::Op::Eq {
                l.insert(m.label.clone(), m.value.clone());
            }
        }
        l
    }

    pub fn missing_alert_annotations(&self) -> BTreeMap<String, String> {
        let mut a = BTreeMap::new();
        a.insert(
            "summary".to_string(),
            format!("SLO {} has no data: its SLI reads nothing", self.slo.name),
        );
        a.insert(
            "description".to_string(),
            format!(
                "No series {} for {}: the SLO cannot burn or alert. Is {} scraped, and does it export this metric with these labels?",
                self.total_selector(),
                promql::duration(MISSING_FOR_MS as f64),
                self.target()
            ),
        );
        self.with_spec_annotations(a)
    }

    /// Fires when the SLI's series are gone for [`MISSING_FOR_MS`] (as
    /// Pyrra's absent alert), so an SLO that reads nothing is not silent.
    fn missing_rule(&self) -> Rule {
        Rule {
            record: None,
            alert: Some(self.missing_alert_name()),
            expr: format!("absent({})", self.total_selector()),
            for_: Some(promql::duration(MISSING_FOR_MS as f64)),
            // `absent()` keeps only the selector's labels: the identity
            // labels come from the rule.
            labels: self.alert_labels(&self.ticket_severity),
            annotations: self.missing_alert_annotations(),
        }
    }

    fn alert_group(&self) -> RuleGroup {
        RuleGroup {
            name: self.alert_group_name(),
            rules: self
                .severities
                .iter()
                .map(|sev| Rule {
                    record: None,
                    alert: Some(self.alert_name.clone()),
                    expr: self.alert_expr(sev),
                    for_: (self.for_ms > 0).then(|| promql::duration(self.for_ms as f64)),
                    labels: self.rule_labels(&sev.name),
                    annotations: self.alert_annotations(sev),
                })
                .chain(std::iter::once(self.missing_rule()))
                .collect(),
        }
    }

    /// The three groups, in evaluation order.
    pub fn groups(&self) -> Vec<RuleGroup> {
        let mut g = vec![self.sli_group(), self.meta_group()];
        if !self.severities.is_empty() {
            g.push(self.alert_group());
        }
        g
    }

    pub fn rule_file(&self) -> RuleFile {
        RuleFile {
            groups: self.groups(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: f64 = 3_600_000.0;
    const D: f64 = 24.0 * H;

    #[test]
    fn factors_print_as_written() {
        use crate::semantics::burn_factor;
        assert_eq!(promql::num(burn_factor(0.02, 30.0 * D, H)), "14.4");
        assert_eq!(promql::num(burn_factor(0.05, 30.0 * D, 6.0 * H)), "6");
        assert_eq!(promql::num(burn_factor(0.10, 30.0 * D, D)), "3");
        assert_eq!(promql::num(burn_factor(0.10, 30.0 * D, 3.0 * D)), "1");
        assert_eq!(promql::num(burn_factor(0.02, 28.0 * D, H)), "13.44");
    }

    #[test]
    fn camel_names() {
        assert_eq!(camel("api_availability"), "ApiAvailability");
        assert_eq!(camel("search-latency"), "SearchLatency");
        assert_eq!(camel("9lives"), "Slo9lives");
        assert_eq!(camel("_"), "Slo");
    }
}
