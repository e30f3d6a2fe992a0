// Validates custom resources against the schemas their upstream projects
// publish through npm (@kubernetes-models/keda, …/prometheus-operator), so a
// fresh clone checks them without ../shared/schemas.
//
//   node scripts/validate_k8s_models.mjs NODE_MODULES_DIR FILE.yaml…
//
// Prints one line per document: `ok FILE KIND NAME`, `FAIL FILE KIND NAME:
// REASON`, or `skip FILE KIND` for a kind no package here covers. Exits 1
// when any document fails, 2 on a usage error or an unreadable file.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [modulesArg, ...files] = process.argv.slice(2);
const modules = modulesArg && path.resolve(modulesArg);
if (!modules || files.length === 0) {
  console.error("usage: validate_k8s_models.mjs NODE_MODULES_DIR FILE.yaml…");
  process.exit(2);
}

// apiVersion/kind → module path inside node_modules.
const MODELS = {
  "keda.sh/v1alpha1/ScaledObject": "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject.js",
  "keda.sh/v1alpha1/ScaledJob": "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledJob.js",
  "keda.sh/v1alpha1/TriggerAuthentication": "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication.js",
  "monitoring.coreos.com/v1/PrometheusRule": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule.js",
  "monitoring.coreos.com/v1/ServiceMonitor": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor.js",
  "monitoring.coreos.com/v1/PodMonitor": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor.js",
};

const load = (rel) => import(pathToFileURL(path.join(modules, rel)).href);
const YAML = createRequire(path.join(modules, "x.js"))("yaml");

let failed = false;
for (const file of files) {
  let docs;
  try {
    docs = YAML.parseAllDocuments(readFileSync(file, "utf8"));
  } catch (e) {
    console.error(`error: ${file}: ${e.message}`);
    process.exit(2);
  }
  for (const d of docs) {
    if (d.errors.length) {
      console.log(`FAIL ${file}: YAML: ${d.errors[0].message}`);
      failed = true;
      continue;
    }
    const obj = d.toJS();
    if (!obj) continue;
    const key = `${obj.apiVersion}/${obj.kind}`;
    const name = obj.metadata?.name ?? "?";
    const rel = MODELS[key];
    if (!rel) {
      console.log(`skip ${file} ${key}`);
      continue;
    }
    const mod = await load(rel);
    try {
      new mod[obj.kind](obj).validate();
      console.log(`ok ${file} ${obj.kind} ${name}`);
    } catch (e) {
      console.log(`FAIL ${file} ${obj.kind} ${name}: ${e.message}`);
      failed = true;
    }
  }
}
process.exit(failed ? 1 : 0);
