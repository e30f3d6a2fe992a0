// The runtime of every generated load test. It is the same text for every
// spec: what the spec says reaches the script only as the JSON value
// `SPEC` above, and no spec text is ever part of the code.
//
// Environment (all optional):
//   BASE_URL    where the target answers (default: SPEC.base_url)
//   RATE_SCALE  multiplies every rate (0 < x <= 100; default 1)
//   TIME_SCALE  multiplies every duration (0 < x <= 100; default 1)
//   API_TOKEN   sent as `Authorization: Bearer …` when set
//   API_KEYS    the size of the API-key pool (default: SPEC.api_keys.pool)
//   REPLAY_FILE the masked trace a replay test reads (default: the spec's
//               `replay` path, relative to this script)
import http from "k6/http";
import exec from "k6/execution";
import { check } from "k6";
import { Trend } from "k6/metrics";
import { SharedArray } from "k6/data";

// A number from the environment, within (0, max].
function envNumber(name, fallback, max) {
  const raw = __ENV[name];
  if (raw === undefined || raw === "") {
    return fallback;
  }
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0 || v > max) {
    throw new Error(name + " must be a number in (0, " + max + "], not " + JSON.stringify(raw));
  }
  return v;
}

const RATE_SCALE = envNumber("RATE_SCALE", 1, 100);
const TIME_SCALE = envNumber("TIME_SCALE", 1, 100);
// k6 arrival rates are whole numbers per time unit: per minute keeps a
// rate of 1/60 rps exact enough when a test is scaled down.
const PER_MINUTE = 60;

function ms(x) {
  return Math.max(0, Math.round(x)) + "ms";
}

// A class's rate in iterations per minute at `rps` for the whole test.
function classRate(rps, share) {
  return Math.round(rps * share * RATE_SCALE * PER_MINUTE);
}

// Little's law: in-flight requests = rate x time in the system. The pool
// starts at the rate times the class's p95 (with headroom) and may grow to
// the rate times its hard timeout, so a server that answers at the timeout
// still gets every arrival.
function vuPool(spec, cls) {
  let peak = 0;
  for (const st of spec.stages) {
    peak = Math.max(peak, st.from_rps, st.to_rps);
  }
  const rps = peak * cls.share * RATE_SCALE;
  const pre = Math.ceil(rps * (cls.p95_ms / 1000) * 1.2) + 1;
  const max = Math.max(pre, Math.ceil(rps * (cls.timeout_ms / 1000)) + 1);
  return { preAllocatedVUs: pre, maxVUs: max };
}

// One scenario per class and run of stages: consecutive ramps and bursts
// form one `ramping-arrival-rate` scenario, each hold or soak a
// `constant-arrival-rate` one (at least 1s, k6's minimum), in order.
function scenarios(spec) {
  const segments = [];
  let current = null;
  for (const st of spec.stages) {
    const steady = st.kind === "hold" || st.kind === "soak";
    if (steady) {
      current = null;
      segments.push({ steady: true, stages: [st] });
    } else {
      if (current === null) {
        current = { steady: false, stages: [] };
        segments.push(current);
      }
      current.stages.push(st);
    }
  }
  const out = {};
  spec.classes.forEach((cls, ci) => {
    const pool = vuPool(spec, cls);
    let start = 0;
    segments.forEach((seg, si) => {
      const name = cls.scenario + "_" + si;
      const base = {
        exec: "class_" + ci,
        startTime: ms(start),
        gracefulStop: ms(cls.timeout_ms),
        preAllocatedVUs: pool.preAllocatedVUs,
        maxVUs: pool.maxVUs,
        tags: { class: cls.class_tag },
      };
      if (seg.steady) {
        const st = seg.stages[0];
        const d = Math.max(1000, st.duration_ms * TIME_SCALE);
        const rate = classRate(st.to_rps, cls.share);
        if (rate > 0) {
          out[name] = Object.assign(
            { executor: "constant-arrival-rate", rate: rate, timeUnit: "1m", duration: ms(d) },
            base,
          );
        }
        start += d;
      } else {
        const first = seg.stages[0];
        let level = classRate(first.from_rps, cls.share);
        const startRate = level;
        const stages = [];
        let any = level > 0;
        for (const st of seg.stages) {
          const from = classRate(st.from_rps, cls.share);
          const to = classRate(st.to_rps, cls.share);
          if (from !== level) {
            stages.push({ target: from, duration: "0s" });
          }
          const d = st.duration_ms * TIME_SCALE;
          stages.push({ target: to, duration: ms(d) });
          start += d;
          level = to;
          any = any || from > 0 || to > 0;
        }
        if (any) {
          out[name] = Object.assign(
            { executor: "ramping-arrival-rate", startRate: startRate, timeUnit: "1m", stages: stages },
            base,
          );
        }
      }
    });
  });
  return out;
}

// The number of iterations the test is expected to start (scaled).
function expectedIterations(spec) {
  let n = 0;
  for (const st of spec.stages) {
    n += ((st.from_rps + st.to_rps) / 2) * RATE_SCALE * (st.duration_ms / 1000) * TIME_SCALE;
  }
  return n;
}

// A chaos experiment: a steady load on every class for the experiment,
// checking that the target stays within its budgets and SLOs, fails fast
// and recovers in time.
function chaosOptions(spec) {
  const c = spec.chaos;
  const d = Math.max(1000, c.duration_ms * TIME_SCALE);
  const sc = {};
  spec.classes.forEach((cls, ci) => {
    const rate = classRate(c.rate_rps, cls.share);
    if (rate > 0) {
      sc[cls.scenario] = {
        executor: "constant-arrival-rate",
        exec: "class_" + ci,
        rate: rate,
        timeUnit: "1m",
        duration: ms(d),
        gracefulStop: ms(cls.timeout_ms),
        preAllocatedVUs: vuPool(spec, cls).preAllocatedVUs,
        maxVUs: vuPool(spec, cls).maxVUs,
        tags: { class: cls.class_tag },
      };
    }
  });
  const thresholds = Object.assign({}, spec.thresholds);
  thresholds["checks{check:answered within the hard timeout}"] = ["rate==1"];
  thresholds["checks{check:failures are fast}"] = ["rate==1"];
  if (c.recover_within_ms !== null) {
    thresholds["chaos_recovery_ms"] = ["max<" + Math.round(c.recover_within_ms * TIME_SCALE)];
  }
  return {
    scenarios: sc,
    thresholds: thresholds,
    summaryTrendStats: ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"],
  };
}

// How long a VU saw requests fail before one succeeded again.
const RECOVERY = new Trend("chaos_recovery_ms", true);
let failingSince = null;

function chaosChecks(route, res) {
  const ok = res.status >= 200 && res.status < 300;
  check(res, {
    "answered within the hard timeout": (r) => r.timings.duration < route.timeout_ms,
    // An open breaker or a shed request answers at once, not at the timeout.
    "failures are fast": (r) => ok || r.timings.duration < route.p95_ms,
  });
  const now = Date.now();
  if (!ok && failingSince === null) {
    failingSince = now;
  } else if (ok && failingSince !== null) {
    RECOVERY.add(now - failingSince);
    failingSince = null;
  }
}

// --- Replay ----------------------------------------------------------------
// A masked trace (`scalec mask`): JSON lines of {t_ms, method, path,
// headers, body}. Each iteration sends the next request of the trace; the
// arrival rate follows the trace second by second, its timing scaled by
// TIME_SCALE (0.1 replays an hour in six minutes).

function parseTrace(text) {
  const out = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") {
      continue;
    }
    const r = JSON.parse(line);
    if (typeof r !== "object" || r === null || typeof r.path !== "string") {
      throw new Error("trace line " + (i + 1) + ": not a request object with a path");
    }
    out.push({
      t_ms: Number(r.t_ms) || 0,
      method: String(r.method || "GET").toUpperCase(),
      path: r.path,
      headers: r.headers && typeof r.headers === "object" ? r.headers : {},
      body: r.body === undefined || r.body === null ? null : typeof r.body === "string" ? r.body : JSON.stringify(r.body),
    });
  }
  out.sort((a, b) => a.t_ms - b.t_ms);
  return out;
}

const TRACE = SPEC.replay
  ? new SharedArray("trace", () => parseTrace(open(__ENV.REPLAY_FILE || SPEC.replay.file)))
  : null;

// Requests per (scaled) second of the trace.
function traceBuckets() {
  const counts = [];
  const t0 = TRACE.length > 0 ? TRACE[0].t_ms : 0;
  for (let i = 0; i < TRACE.length; i++) {
    const b = Math.floor(((TRACE[i].t_ms - t0) * TIME_SCALE) / 1000);
    while (counts.length <= b) {
      counts.push(0);
    }
    counts[b] += 1;
  }
  return counts;
}

function replayOptions(spec) {
  const counts = traceBuckets();
  const stages = [];
  let peak = 0;
  for (const c of counts) {
    stages.push({ target: c, duration: "0s" });
    stages.push({ target: c, duration: "1s" });
    peak = Math.max(peak, c);
  }
  // A second of slack, so rounding in the executor never leaves the last
  // requests of the trace unsent (iterations past its end send nothing).
  stages.push({ target: Math.max(1, counts.length > 0 ? counts[counts.length - 1] : 1), duration: "1s" });
  let timeout = 0;
  for (const cls of spec.classes) {
    timeout = Math.max(timeout, cls.timeout_ms);
  }
  const thresholds = Object.assign({}, spec.thresholds);
  thresholds["iterations"] = ["count>0"];
  return {
    scenarios: {
      replay: {
        executor: "ramping-arrival-rate",
        exec: "replay",
        startRate: counts.length > 0 ? counts[0] : 0,
        timeUnit: "1s",
        stages: stages,
        preAllocatedVUs: Math.ceil(peak * 0.5) + 1,
        maxVUs: Math.ceil((peak * Math.max(timeout, 1000)) / 1000) + 1,
        gracefulStop: ms(timeout),
      },
    },
    thresholds: thresholds,
    summaryTrendStats: ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"],
  };
}

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// Route templates as regular expressions (made from data, escaped).
const ROUTES = [];
for (const cls of SPEC.classes) {
  for (const route of cls.routes) {
    let re = "^";
    for (const part of route.path) {
      re += part.param === undefined ? escapeRegExp(part.text) : "[^/]+";
    }
    ROUTES.push({ method: route.method, re: new RegExp(re + "$"), route: route, cls: cls });
  }
}

function routeOf(method, path) {
  const p = path.split("?")[0];
  for (const r of ROUTES) {
    if (r.method === method && r.re.test(p)) {
      return r;
    }
  }
  return null;
}

const HOP_BY_HOP = ["host", "content-length", "connection", "transfer-encoding", "keep-alive", "upgrade"];

export function replay() {
  const i = exec.scenario.iterationInTest;
  if (i >= TRACE.length) {
    return;
  }
  const r = TRACE[i];
  const headers = {};
  for (const k of Object.keys(r.headers)) {
    if (HOP_BY_HOP.indexOf(k.toLowerCase()) < 0) {
      headers[k] = String(r.headers[k]);
    }
  }
  const m = routeOf(r.method, r.path);
  const tags = m
    ? { route: m.route.tag, class: m.cls.class_tag, name: m.route.name_tag }
    : { route: "unmatched", name: "unmatched" };
  const res = http.request(r.method, BASE_URL + r.path, r.body, {
    headers: headers,
    timeout: ms(m ? m.route.timeout_ms : 60000),
    tags: tags,
  });
  check(res, { "status is 2xx": (x) => x.status >= 200 && x.status < 300 });
}

function buildOptions(spec) {
  if (spec.chaos) {
    return chaosOptions(spec);
  }
  if (spec.replay) {
    return replayOptions(spec);
  }
  const thresholds = Object.assign({}, spec.thresholds);
  // Arrivals k6 could not start (no free VU): at most 1% of the test.
  thresholds["dropped_iterations"] = ["count<=" + Math.floor(expectedIterations(spec) * 0.01)];
  // Every class with a share sends traffic, and its count is in the summary.
  for (const cls of spec.classes) {
    thresholds["http_reqs{class:" + cls.class_tag + "}"] = ["count>0"];
  }
  return {
    scenarios: scenarios(spec),
    thresholds: thresholds,
    summaryTrendStats: ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"],
  };
}

const BASE_URL = (__ENV.BASE_URL || SPEC.base_url).replace(/\/+$/, "");

function apiKeyPool() {
  if (!SPEC.api_keys) {
    return 0;
  }
  return Math.floor(envNumber("API_KEYS", SPEC.api_keys.pool, 1e9));
}

// The path of a route, its parameters filled from the iteration number.
function pathOf(route, n) {
  let out = "";
  for (const part of route.path) {
    if (part.param === undefined) {
      out += part.text;
    } else {
      out += encodeURIComponent(part.param + "-" + ((n % 1000) + 1));
    }
  }
  return out;
}

function request(cls, n) {
  const route = cls.routes[n % cls.routes.length];
  const vu = exec.vu.idInTest;
  const headers = {};
  const query = [];
  if (SPEC.api_keys) {
    const pool = apiKeyPool();
    headers[SPEC.api_keys.header] = "k6-key-" + ((n * 7919 + vu) % pool);
  }
  if (SPEC.tenant) {
    headers[SPEC.tenant.header] = "k6-tenant-" + ((n + vu) % SPEC.tenant.pool);
  }
  if (__ENV.API_TOKEN) {
    headers["Authorization"] = "Bearer " + __ENV.API_TOKEN;
  }
  if (route.idempotency) {
    const key = "k6-" + vu + "-" + n + "-" + Math.floor(Math.random() * 1e9);
    if (route.idempotency.from === "header") {
      headers[route.idempotency.name] = key;
    } else if (route.idempotency.from === "query") {
      query.push(encodeURIComponent(route.idempotency.name) + "=" + encodeURIComponent(key));
    } else if (route.idempotency.from === "cookie") {
      headers["Cookie"] = route.idempotency.name + "=" + key;
    }
  }
  let body = null;
  if (route.body) {
    headers["Content-Type"] = "application/json";
    body = "{}";
  }
  let url = BASE_URL + pathOf(route, n);
  if (query.length > 0) {
    url += "?" + query.join("&");
  }
  const res = http.request(route.method, url, body, {
    headers: headers,
    timeout: ms(route.timeout_ms),
    tags: { route: route.tag, class: cls.class_tag, name: route.name_tag },
  });
  if (SPEC.chaos) {
    chaosChecks(route, res);
  } else {
    check(res, { "status is 2xx": (r) => r.status >= 200 && r.status < 300 });
  }
  return res;
}

function run(ci) {
  const cls = SPEC.classes[ci];
  return request(cls, exec.scenario.iterationInTest);
}
