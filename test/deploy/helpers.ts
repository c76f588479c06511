/**
 * Reading the deployment files (Dockerfile, docker/, deploy/, docker-compose.yml) for the deploy
 * tests: every YAML document with its file, the Dockerfile's instructions, the container config.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseProperties } from '../../src/config/index.js';
import { REPO_ROOT } from '../e2e/harness.js';

export { REPO_ROOT };

/** Routes a probe or health check may use: each is answered 200 by a ready server (the e2e tests check it). */
export const HEALTH_ROUTES = ['/ping', '/v2/health/ready', '/v2/health/live'] as const;

export interface YamlDoc {
  file: string;
  // The manifests' shape is what the tests check, so it is read as loose data.
  doc: any;
}

function yamlFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'templates' ? [] : yamlFiles(p); // Helm templates are not plain YAML
    return /\.ya?ml$/.test(e.name) ? [p] : [];
  });
}

/** Every YAML file under deploy/ plus docker-compose.yml, repository-relative. */
export function deploymentYamlFiles(): string[] {
  return [...yamlFiles(path.join(REPO_ROOT, 'deploy')), path.join(REPO_ROOT, 'docker-compose.yml')].map((p) => path.relative(REPO_ROOT, p)).sort();
}

/** Parses every document; throws (naming the file) on any YAML error or warning. */
export function loadYamlDocs(files = deploymentYamlFiles()): YamlDoc[] {
  return files.flatMap((file) => {
    const docs = parseAllDocuments(fs.readFileSync(path.join(REPO_ROOT, file), 'utf8'), { prettyErrors: true });
    const list = Array.isArray(docs) ? docs : [docs];
    return list.map((d) => {
      const problems = [...d.errors, ...d.warnings];
      if (problems.length > 0) throw new Error(`${file}: ${problems.map((e) => e.message).join('; ')}`);
      return { file, doc: d.toJS() };
    }).filter((d) => d.doc !== null && d.doc !== undefined);
  });
}

export function kindsOf(docs: YamlDoc[], kind: string): YamlDoc[] {
  return docs.filter((d) => d.doc?.kind === kind);
}

export interface DockerInstruction {
  op: string;
  args: string;
}

/** The Dockerfile's instructions (continuations joined, comments dropped). */
export function dockerfileInstructions(text = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8')): DockerInstruction[] {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (current === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // a comment inside a continued instruction
    if (line.endsWith('\\')) {
      current += line.slice(0, -1) + ' ';
      continue;
    }
    logical.push(current + line);
    current = '';
  }
  if (current.trim() !== '') logical.push(current);
  return logical.map((l) => {
    const m = /^(\S+)\s*(.*)$/s.exec(l) as RegExpExecArray;
    return { op: (m[1] as string).toUpperCase(), args: (m[2] as string).trim() };
  });
}

/** The runtime (last) stage's ENV values. */
export function runtimeEnv(instructions = dockerfileInstructions()): Record<string, string> {
  const lastFrom = instructions.map((i) => i.op).lastIndexOf('FROM');
  const env: Record<string, string> = {};
  for (const i of instructions.slice(lastFrom)) {
    if (i.op !== 'ENV') continue;
    for (const m of i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) env[m[1] as string] = (m[2] as string).replace(/^"|"$/g, '');
  }
  return env;
}

/** docker/config.properties: the image's default configuration. */
export function containerConfig(): Record<string, string> {
  return parseProperties(fs.readFileSync(path.join(REPO_ROOT, 'docker/config.properties'), 'utf8'));
}

/** Every distinct health route the deployment files probe (httpGet paths, exec healthcheck routes, the HEALTHCHECK). */
export function probedRoutes(docs = loadYamlDocs()): string[] {
  const routes = new Set<string>();
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (v === null || typeof v !== 'object') return;
    for (const [k, child] of Object.entries(v)) {
      if (/Probe$/.test(k) && child && typeof child === 'object') {
        const probe = child as { httpGet?: { path?: string }; exec?: { command?: string[] } };
        if (probe.httpGet?.path) routes.add(probe.httpGet.path);
        for (const a of probe.exec?.command ?? []) if (a.startsWith('/') && !a.includes('.')) routes.add(a);
      }
      visit(child);
    }
  };
  for (const d of docs) visit(d.doc);
  const hc = dockerfileInstructions().find((i) => i.op === 'HEALTHCHECK');
  for (const m of hc?.args.matchAll(/"(\/[^".]*)"/g) ?? []) routes.add(m[1] as string);
  return [...routes].sort();
}
