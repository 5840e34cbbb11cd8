'use strict';
// Validates rendered Kubernetes manifests offline (run by tests/k8s/validate.sh).
//
//   node validate-manifests.js [--configs-to DIR] FILE.yaml...
//
// Each FILE is one rendering (`kubectl kustomize OVERLAY`): a stream of YAML
// documents. Every object is checked three ways:
//  1. schema: apiVersion/kind map to a kubernetes-models class, whose
//     validate() checks types, formats, enums and required fields;
//  2. unknown fields: kubernetes-models' validators (compiled JSON schemas)
//     accept properties they do not know, so validate() runs on a view of the
//     object that records which properties the schemas read; a property no
//     schema read is unknown (a typo, or a field of a newer Kubernetes). This
//     would also flag the contents of free-form fields (RawExtension,
//     x-kubernetes-preserve-unknown-fields), which weir's manifests do not use;
//  3. consistency inside one rendering: names that objects refer to exist
//     (ConfigMaps, PVCs, ServiceAccounts, Services, volumes), selectors select
//     a pod template, probe, Service and scrape ports are container ports,
//     every container has requests, limits and probes, and every object is
//     in the overlay's namespace.
// With --configs-to, each ConfigMap key is also written to
// DIR/<file basename>/<ConfigMap name>/<key> for validate.sh to check with
// the real binaries.
// Exit status: 0 when every object of every file passes, 1 otherwise (every
// problem is printed as FILE: Kind/name: message), 2 on bad usage.

const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');

function modelClass(apiVersion, kind) {
  if (typeof apiVersion !== 'string' || !/^([a-z0-9.-]+\/)?v[0-9]+[a-z0-9]*$/.test(apiVersion)) {
    return null;
  }
  if (typeof kind !== 'string' || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) return null;
  let mod;
  try {
    mod = require(`kubernetes-models/${apiVersion}/${kind}`);
  } catch (e) {
    if (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') return null;
    throw e;
  }
  const cls = mod[kind];
  if (typeof cls !== 'function' || cls.apiVersion !== apiVersion || cls.kind !== kind) return null;
  return cls;
}

// A read-recording view of `root`: every object reached through it notes
// which of its own properties were read (or tested with `in`).
function recordingView(root) {
  const objects = [];
  const wrap = (value, where) => {
    if (value === null || typeof value !== 'object') return value;
    const read = new Set();
    if (!Array.isArray(value)) objects.push({ where, value, read });
    const children = new Map();
    return new Proxy(value, {
      get(target, key, receiver) {
        if (typeof key === 'string' && Object.prototype.hasOwnProperty.call(target, key)) {
          read.add(key);
          if (!children.has(key)) children.set(key, wrap(target[key], `${where}/${key}`));
          return children.get(key);
        }
        return Reflect.get(target, key, receiver);
      },
      has(target, key) {
        if (typeof key === 'string') read.add(key);
        return Reflect.has(target, key);
      },
    });
  };
  const proxy = wrap(root, '');
  const unread = () => {
    const out = [];
    for (const o of objects) {
      for (const k of Object.keys(o.value)) {
        if (!o.read.has(k) && o.value[k] !== undefined) out.push(`${o.where}/${k}`);
      }
    }
    return out;
  };
  return { proxy, unread };
}

function checkSchema(doc, problems) {
  const cls = modelClass(doc.apiVersion, doc.kind);
  if (!cls) {
    problems.push(`unknown apiVersion/kind ${doc.apiVersion}/${doc.kind} (not in kubernetes-models)`);
    return;
  }
  const model = new cls(doc);
  const view = recordingView(model);
  try {
    model.validate.call(view.proxy);
  } catch (e) {
    problems.push(`schema: ${e.message}`);
  }
  for (const p of view.unread()) problems.push(`unknown field ${p}`);
}

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const matches = (selector, labels) =>
  isObj(selector) && Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => isObj(labels) && labels[k] === v);

function podTemplates(docs) {
  const out = [];
  for (const d of docs) {
    const t = d.spec && d.spec.template;
    if (['StatefulSet', 'Deployment', 'DaemonSet', 'ReplicaSet', 'Job'].includes(d.kind) && isObj(t)) {
      out.push({ owner: d, template: t, spec: t.spec || {}, labels: (t.metadata || {}).labels || {} });
    }
  }
  return out;
}

function containerPorts(spec) {
  const ports = [];
  for (const c of [...(spec.containers || []), ...(spec.initContainers || [])]) {
    for (const p of c.ports || []) ports.push(p);
  }
  return ports;
}

function checkConsistency(docs, report) {
  const names = (kind) => new Set(docs.filter((d) => d.kind === kind).map((d) => d.metadata.name));
  const configMaps = names('ConfigMap');
  const pvcs = names('PersistentVolumeClaim');
  const accounts = names('ServiceAccount');
  const services = names('Service');
  const namespaces = names('Namespace');
  const templates = podTemplates(docs);

  if (namespaces.size > 0) {
    for (const d of docs) {
      if (d.kind === 'Namespace') continue;
      const ns = d.metadata.namespace;
      if (!namespaces.has(ns)) report(d, `namespace ${ns} is not the overlay's (${[...namespaces].join(', ')})`);
    }
  }

  for (const { owner, spec, labels } of templates) {
    const selector = (owner.spec.selector || {}).matchLabels;
    if (!matches(selector, labels)) report(owner, 'spec.selector.matchLabels does not select the pod template');
    if (spec.serviceAccountName && !accounts.has(spec.serviceAccountName)) {
      report(owner, `serviceAccountName ${spec.serviceAccountName}: no such ServiceAccount`);
    }
    if (owner.kind === 'StatefulSet' && !services.has(owner.spec.serviceName)) {
      report(owner, `serviceName ${owner.spec.serviceName}: no such Service`);
    }
    const volumes = new Set();
    for (const v of spec.volumes || []) {
      volumes.add(v.name);
      if (v.configMap && !configMaps.has(v.configMap.name)) {
        report(owner, `volume ${v.name}: no ConfigMap ${v.configMap.name}`);
      }
      if (v.persistentVolumeClaim && !pvcs.has(v.persistentVolumeClaim.claimName)) {
        report(owner, `volume ${v.name}: no PersistentVolumeClaim ${v.persistentVolumeClaim.claimName}`);
      }
    }
    for (const t of owner.spec.volumeClaimTemplates || []) volumes.add(t.metadata.name);
    const ports = containerPorts(spec);
    const portNumbers = new Set(ports.map((p) => p.containerPort));
    for (const c of spec.containers || []) {
      const r = c.resources || {};
      for (const kind of ['requests', 'limits']) {
        for (const res of ['cpu', 'memory']) {
          if (!r[kind] || r[kind][res] === undefined) report(owner, `container ${c.name}: no resources.${kind}.${res}`);
        }
      }
      for (const probe of ['readinessProbe', 'livenessProbe']) {
        if (!c[probe]) report(owner, `container ${c.name}: no ${probe}`);
      }
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        const g = c[probe] && c[probe].grpc;
        if (g && !portNumbers.has(g.port)) report(owner, `container ${c.name}: ${probe} port ${g.port} is not a container port`);
      }
      for (const m of c.volumeMounts || []) {
        if (!volumes.has(m.name)) report(owner, `container ${c.name}: volumeMount ${m.name}: no such volume`);
      }
    }
    const ann = (owner.spec.template.metadata || {}).annotations || {};
    if (ann['prometheus.io/scrape'] === 'true' && !portNumbers.has(Number(ann['prometheus.io/port']))) {
      report(owner, `prometheus.io/port ${ann['prometheus.io/port']} is not a container port`);
    }
  }

  for (const d of docs) {
    if (d.kind === 'Service') {
      const selected = templates.filter((t) => matches(d.spec.selector, t.labels));
      if (selected.length === 0) {
        report(d, 'selector selects no pod template');
        continue;
      }
      const ports = selected.flatMap((t) => containerPorts(t.spec));
      for (const p of d.spec.ports || []) {
        const target = p.targetPort === undefined ? p.port : p.targetPort;
        const found = ports.some((cp) => (typeof target === 'string' ? cp.name === target : cp.containerPort === target));
        if (!found) report(d, `port ${p.name}: targetPort ${target} is not a port of the selected containers`);
      }
    }
    if (d.kind === 'PodDisruptionBudget') {
      const sel = (d.spec.selector || {}).matchLabels;
      if (!templates.some((t) => matches(sel, t.labels))) report(d, 'selector selects no pod template');
    }
  }
}

function main(argv) {
  let configsTo = null;
  const files = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--configs-to' && i + 1 < argv.length) configsTo = argv[++i];
    else if (argv[i].startsWith('-')) {
      console.error(`validate-manifests: unknown option ${argv[i]}`);
      return 2;
    } else files.push(argv[i]);
  }
  if (files.length === 0) {
    console.error('usage: node validate-manifests.js [--configs-to DIR] FILE.yaml...');
    return 2;
  }
  let failures = 0;
  for (const file of files) {
    let docs;
    const problems = [];
    try {
      docs = yaml.loadAll(fs.readFileSync(file, 'utf8')).filter((d) => d !== null && d !== undefined);
    } catch (e) {
      console.log(`${file}: cannot parse: ${e.message}`);
      failures++;
      continue;
    }
    const label = (d) => `${(d && d.kind) || '?'}/${(d && d.metadata && d.metadata.name) || '?'}`;
    const report = (d, msg) => problems.push(`${file}: ${label(d)}: ${msg}`);
    const wellFormed = [];
    for (const d of docs) {
      if (!isObj(d) || !isObj(d.metadata) || typeof d.metadata.name !== 'string') {
        report(d, 'not a Kubernetes object (no metadata.name)');
        continue;
      }
      const found = [];
      checkSchema(d, found);
      for (const f of found) report(d, f);
      wellFormed.push(d);
    }
    if (docs.length === 0) problems.push(`${file}: no objects`);
    try {
      checkConsistency(wellFormed, report);
    } catch (e) {
      problems.push(`${file}: consistency checks failed on a malformed object: ${e.message}`);
    }
    if (configsTo) {
      for (const d of wellFormed.filter((x) => x.kind === 'ConfigMap')) {
        const dir = path.join(configsTo, path.basename(file, path.extname(file)), d.metadata.name);
        fs.mkdirSync(dir, { recursive: true });
        for (const [k, v] of Object.entries(d.data || {})) fs.writeFileSync(path.join(dir, k), String(v));
      }
    }
    for (const p of problems) console.log(p);
    const kinds = {};
    for (const d of wellFormed) kinds[d.kind] = (kinds[d.kind] || 0) + 1;
    const summary = Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(', ');
    if (problems.length === 0) console.log(`${file}: ok: ${wellFormed.length} objects (${summary})`);
    else failures++;
  }
  return failures === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
