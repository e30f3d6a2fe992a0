// The baseline of `cargo bench --bench build`: what a hand-written Jsonnet
// library does for the same N services as the generated .scale spec —
// per service a Deployment, a Service, a PodDisruptionBudget, an HPA and a
// PrometheusRule with multiwindow burn-rate rules, one YAML file per object.
//
//   jrsonnet -S -c -m DIR --tla-code n=1000 build.jsonnet
local app = 'bench';

local labels(name) = {
  'app.kubernetes.io/name': name,
  'app.kubernetes.io/part-of': app,
};

local windows = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'];
local pairs = [
  { severity: 'page', long: '1h', short: '5m', factor: 14.4 },
  { severity: 'page', long: '6h', short: '30m', factor: 6 },
  { severity: 'ticket', long: '1d', short: '2h', factor: 3 },
  { severity: 'ticket', long: '3d', short: '6h', factor: 1 },
];

local deployment(i, name) = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: name, labels: labels(name) { 'app.kubernetes.io/managed-by': 'jsonnet' } },
  spec: {
    selector: { matchLabels: labels(name) },
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
    template: {
      metadata: { labels: labels(name) },
      spec: {
        containers: [{
          name: name,
          image: 'ghcr.io/acme/%s:1.%d.0' % [name, i % 10],
          ports: [{ name: 'http', containerPort: 8080 }],
          resources: { requests: { cpu: '%dm' % (250 * (1 + i % 4)) } },
          livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10, failureThreshold: 3 },
          readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5, failureThreshold: 3 },
          startupProbe: { httpGet: { path: '/warmup', port: 'http' }, periodSeconds: 5, failureThreshold: 30 },
        }],
      },
    },
  },
};

local service(name) = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: name, labels: labels(name) },
  spec: { selector: labels(name), ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
};

local pdb(name) = {
  apiVersion: 'policy/v1',
  kind: 'PodDisruptionBudget',
  metadata: { name: name, labels: labels(name) },
  spec: { maxUnavailable: 1, selector: { matchLabels: labels(name) } },
};

local hpa(i, name) = {
  apiVersion: 'autoscaling/v2',
  kind: 'HorizontalPodAutoscaler',
  metadata: { name: name, labels: labels(name) },
  spec: {
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: name },
    minReplicas: 2 + i % 3,
    maxReplicas: 20 + i % 40,
    metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
  },
};

local sel(svc, slo) = 'app="%s",service="%s",slo="%s"' % [app, svc, slo];

local rule(i, name) =
  local slo = name + '_availability';
  local ids = { app: app, service: name, slo: slo };
  {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: name + '-availability', labels: { 'app.kubernetes.io/component': 'slo', 'app.kubernetes.io/part-of': app } },
    spec: {
      groups: [
        {
          name: 'slo-sli-recordings-' + slo,
          rules: [
            {
              record: 'slo:sli_error:ratio_rate' + w,
              expr: '(sum(rate(http_server_request_duration_seconds_count{job="%s",http_response_status_code=~"5.."}[%s])) or vector(0))\n/\nsum(rate(http_server_request_duration_seconds_count{job="%s"}[%s]))' % [name, w, name, w],
              labels: ids { window: w },
            }
            for w in windows
          ] + [{
            record: 'slo:sli_error:ratio_rate30d',
            expr: 'sum_over_time(slo:sli_error:ratio_rate5m{%s}[30d]) / count_over_time(slo:sli_error:ratio_rate5m{%s}[30d])' % [sel(name, slo), sel(name, slo)],
            labels: ids { window: '30d' },
          }],
        },
        {
          name: 'slo-meta-recordings-' + slo,
          rules: [
            { record: 'slo:objective:ratio', expr: 'vector(0.999)', labels: ids },
            { record: 'slo:error_budget:ratio', expr: 'vector(1 - 0.999)', labels: ids },
            { record: 'slo:time_period:days', expr: 'vector(30)', labels: ids },
          ],
        },
        {
          name: 'slo-alerts-' + slo,
          rules: [
            {
              alert: 'S%dAvailabilityErrorBudgetBurn' % i,
              expr: std.join('\nor\n', [
                '(max without (window) (slo:sli_error:ratio_rate%s{%s} > (%s * 0.001)) and max without (window) (slo:sli_error:ratio_rate%s{%s} > (%s * 0.001)))' % [p.short, sel(name, slo), p.factor, p.long, sel(name, slo), p.factor]
                for p in pairs
                if p.severity == sev
              ]),
              labels: { severity: sev },
              annotations: { summary: 'SLO %s is burning its error budget too fast (%s)' % [slo, sev] },
            }
            for sev in ['page', 'ticket']
          ],
        },
      ],
    },
  };

local files(i) =
  local name = 's%d' % i;
  [
    ['k8s/%s.deployment.yaml' % name, deployment(i, name)],
    ['k8s/%s.service.yaml' % name, service(name)],
    ['k8s/%s.pdb.yaml' % name, pdb(name)],
    ['k8s/%s.hpa.yaml' % name, hpa(i, name)],
    ['k8s/%s-availability.prometheusrule.yaml' % name, rule(i, name)],
  ];

function(n) {
  [f[0]]: std.manifestYamlDoc(f[1])
  for f in std.flattenArrays([files(i) for i in std.range(0, n - 1)])
}
