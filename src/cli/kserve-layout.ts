/**
 * KServe custom-runtime launch: turns what KServe gives a runtime container — its arguments
 * (`--model_name={{.Name}}`, `--model_dir=/mnt/models`, `--http_port=8080`), its environment
 * (`PORT`, `STORAGE_URI`, `PROTOCOL`, `INFERENCE_SERVICE_NAME`, `K_SERVICE`…) and the files the
 * storage initializer downloaded into the model dir — into onnxserve CLI arguments.
 *
 * Layouts of the model dir, first match wins (docs/deployment.md, "Run on KServe"):
 *   torchserve     config/config.properties (+ model-store/): TorchServe's KServe layout; the models
 *                  are the config's (load_models / model_snapshot), only the listener is moved to
 *                  KServe's HTTP port.
 *   model-store    model-store/ without a config: every archive in it; a single one is served
 *                  under the InferenceService's name.
 *   folder-archive MAR-INF/MANIFEST.json at the top: the dir is one no-archive model.
 *   archives       *.mar / *.tar.gz / *.tgz at the top (what a single-file storageUri gives).
 *   onnx           a bare model.onnx (or a single *.onnx): a folder archive is generated in the
 *                  writable work dir (links to the files, plus MAR-INF/MANIFEST.json) and served
 *                  under the InferenceService's name.
 *
 * `kserveLaunchArgs` is pure (all file access through `fs`); `applyLaunchPlan` does the writing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isValidModelName } from '../archive/naming.js';
import { manifestText } from '../archiver/manifest.js';
import { parseBindAddress, parseProperties, PropertiesSyntaxError } from '../config/index.js';

export const KSERVE_MODEL_DIR = '/mnt/models';
export const KSERVE_HTTP_PORT = 8080;
/** Where the generated config lets management and metrics listen (KServe routes only the HTTP port). */
export const KSERVE_MANAGEMENT_ADDRESS = 'http://127.0.0.1:8081';
export const KSERVE_METRICS_ADDRESS = 'http://0.0.0.0:8082';

export type KServeLayout = 'torchserve' | 'model-store' | 'folder-archive' | 'archives' | 'onnx' | 'explicit';

/** The file access the planner needs (the real one: `nodeLayoutFs`). */
export interface LayoutFs {
  exists(p: string): boolean;
  isDirectory(p: string): boolean;
  /** Entry names (not paths), any order. */
  listDir(p: string): string[];
  /** UTF-8 text, or undefined when it cannot be read. */
  readFile(p: string): string | undefined;
}

export interface KServeLaunchOptions {
  /**
   * The container's arguments after the entry: KServe's `--model_name`, `--model_dir`,
   * `--http_port`, `--grpc_port` (as `--k=v` or `--k v`) are consumed; everything else is passed
   * to the onnxserve CLI unchanged (e.g. `--disable-token-auth`).
   */
  argv?: readonly string[];
  /** Overrides `--model_dir` (default /mnt/models). */
  modelDir?: string;
  /** Overrides `--model_name`. */
  modelName?: string;
  env: Readonly<Record<string, string | undefined>>;
  fs: LayoutFs;
  /** A writable folder for what is generated (config.properties, a bare model's folder archive). */
  workDir: string;
  /** createdOn of a generated manifest (default: now). */
  now?: Date;
}

export interface KServeLaunchPlan {
  /** Arguments for `dist/cli/main.js`. */
  args: string[];
  /** What was decided and why, one line each (printed at start). */
  notes: string[];
  layout: KServeLayout;
  modelName: string;
  modelDir: string;
  httpPort: number;
  /** Removed (recursively) before anything is written: what an earlier start generated. */
  clean: string[];
  /** Created (recursively). */
  dirs: string[];
  files: Array<{ path: string; content: string }>;
  /** Symbolic links `path` → `target` (a bare model's files, never copied). */
  links: Array<{ path: string; target: string }>;
}

/** The model dir cannot be served: the message says what was found and what was expected. */
export class KServeLayoutError extends Error {}

/** KServe's runtime flags (its Python model server's names) the planner consumes. */
const KSERVE_FLAGS = ['model_name', 'model_dir', 'http_port', 'grpc_port'] as const;
type KServeFlag = (typeof KSERVE_FLAGS)[number];

/** onnxserve flags that mean "I chose the config/models myself": the layout is then not applied. */
const EXPLICIT_FLAGS = ['--ts-config', '--model-store', '--models'];

const ARCHIVE = /\.(mar|model|tar\.gz|tgz)$/i;
const ONNX = /\.onnx$/i;

function splitArgs(argv: readonly string[]): { flags: Partial<Record<KServeFlag, string>>; rest: string[] } {
  const flags: Partial<Record<KServeFlag, string>> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const m = /^--([a-z_]+)(?:=(.*))?$/s.exec(arg);
    const name = m?.[1] as KServeFlag | undefined;
    if (m && name !== undefined && (KSERVE_FLAGS as readonly string[]).includes(name)) {
      if (m[2] !== undefined) flags[name] = m[2];
      else if (i + 1 < argv.length) flags[name] = argv[++i] as string;
      else throw new KServeLayoutError(`--${name} needs a value`);
      continue;
    }
    rest.push(arg);
  }
  return { flags, rest };
}

function portOf(raw: string, what: string): number {
  const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  // 0 (any free port) is what tests use; KServe always gives a real one.
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new KServeLayoutError(`${what} must be a port number (0-65535), got "${raw}"`);
  return n;
}

/**
 * The InferenceService name: `--model_name` ({{.Name}} in the runtime), else
 * INFERENCE_SERVICE_NAME, else Knative's K_SERVICE without KServe's `-predictor[-default]` suffix.
 */
function modelNameFrom(flag: string | undefined, env: KServeLaunchOptions['env'], notes: string[]): string {
  let name = flag;
  if (name === undefined && env.INFERENCE_SERVICE_NAME) {
    name = env.INFERENCE_SERVICE_NAME;
    notes.push(`Model name from INFERENCE_SERVICE_NAME: ${name}`);
  }
  if (name === undefined && env.K_SERVICE) {
    name = env.K_SERVICE.replace(/-predictor(?:-default)?(?:-\d+)?$/, '');
    notes.push(`Model name from K_SERVICE (${env.K_SERVICE}): ${name}`);
  }
  if (name === undefined) {
    name = 'model';
    notes.push('No --model_name, INFERENCE_SERVICE_NAME or K_SERVICE: serving the model as "model"');
  }
  if (!isValidModelName(name)) throw new KServeLayoutError(`Invalid model name "${name}": it must match ^[A-Za-z0-9][A-Za-z0-9_\\-.]*$`);
  return name;
}

/** A properties value as Properties.store would escape it, minus the `:`/`=` escapes values never need. */
function propValue(v: string): string {
  return v
    .replace(/\\/g, '\\\\')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/^ /, '\\ ');
}

function propsText(header: string[], props: Array<[string, string]>): string {
  return [...header.map((l) => `# ${l}`), ...props.map(([k, v]) => `${k}=${propValue(v)}`)].join('\n') + '\n';
}

const regexEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The config for layouts that bring none: KServe's port, loopback management, Prometheus metrics. */
function generatedConfig(layout: KServeLayout, modelDir: string, store: string, httpPort: number, grpcPort: number | undefined): string {
  return propsText(
    [
      `Generated by onnxserve's KServe entry (layout "${layout}", model dir ${modelDir}); rewritten at every start.`,
      'The inference API listens on all interfaces at KServe\'s HTTP port (the pod IP is what KServe routes to).',
      'Management stays on the pod\'s loopback (KServe exposes one port; use kubectl port-forward).',
    ],
    [
      ['inference_address', `http://0.0.0.0:${httpPort}`],
      ...grpcOverrides(grpcPort),
      ['management_address', KSERVE_MANAGEMENT_ADDRESS],
      ['metrics_address', KSERVE_METRICS_ADDRESS],
      ['metrics_mode', 'prometheus'],
      ['enable_envvars_config', 'true'],
      ['model_store', store],
      ['allowed_urls', `file://${regexEscape(store)}/.*`],
    ],
  );
}

/**
 * KServe's `--grpc_port` (grpc-v2): the gRPC inference listener (TorchServe's service and OIP's
 * GRPCInferenceService) on all interfaces at that port; the gRPC management one stays on loopback.
 */
function grpcOverrides(grpcPort: number | undefined): Array<[string, string]> {
  return grpcPort === undefined
    ? []
    : [
        ['grpc_inference_address', '0.0.0.0'],
        ['grpc_inference_port', String(grpcPort)],
      ];
}

/** Port of an `*_address` value, or undefined (unix socket, unparsable: left for the CLI to report). */
function addressPort(key: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  try {
    const a = parseBindAddress(key, value);
    return a.scheme === 'unix' ? undefined : a.port;
  } catch {
    return undefined;
  }
}

function torchserveLayout(
  o: { modelDir: string; configFile: string; store: string; httpPort: number; grpcPort: number | undefined; workDir: string; fs: LayoutFs },
  notes: string[],
): Pick<KServeLaunchPlan, 'args' | 'files'> {
  const text = o.fs.readFile(o.configFile);
  if (text === undefined) throw new KServeLayoutError(`Cannot read ${o.configFile}`);
  let props: Record<string, string> = {};
  try {
    props = parseProperties(text);
  } catch (e) {
    // The CLI reports it with the file name; nothing here depends on the keys.
    if (!(e instanceof PropertiesSyntaxError)) throw e;
  }
  const overrides: Array<[string, string]> = [['inference_address', `http://0.0.0.0:${o.httpPort}`]];
  if (props.inference_address !== undefined && props.inference_address !== overrides[0]?.[1]) {
    notes.push(`inference_address ${props.inference_address} of ${o.configFile} replaced by http://0.0.0.0:${o.httpPort} (KServe's HTTP port)`);
  }
  overrides.push(...grpcOverrides(o.grpcPort));
  let managementPort = addressPort('management_address', props.management_address ?? KSERVE_MANAGEMENT_ADDRESS);
  if (managementPort === o.httpPort) {
    overrides.push(['management_address', KSERVE_MANAGEMENT_ADDRESS]);
    notes.push(`management_address ${props.management_address} shares KServe's HTTP port: moved to ${KSERVE_MANAGEMENT_ADDRESS}`);
    managementPort = addressPort('management_address', KSERVE_MANAGEMENT_ADDRESS);
  }
  const metricsPort = addressPort('metrics_address', props.metrics_address ?? KSERVE_METRICS_ADDRESS);
  if (props.metrics_address === undefined || metricsPort === o.httpPort || metricsPort === managementPort) {
    overrides.push(['metrics_address', KSERVE_METRICS_ADDRESS]);
    notes.push(
      props.metrics_address === undefined
        ? `No metrics_address in ${o.configFile}: metrics on ${KSERVE_METRICS_ADDRESS} (the runtime's prometheus.kserve.io/port)`
        : `metrics_address ${props.metrics_address} collides with another listener: moved to ${KSERVE_METRICS_ADDRESS}`,
    );
  }
  const configOut = path.join(o.workDir, 'config.properties');
  // Later keys win in a properties file: the user's text stays as it is (comments, $$VAR$$, model_snapshot).
  // The blank line ends a dangling `\` continuation so the overrides always start a fresh entry.
  const content =
    text.replace(/[\r\n]*$/, '') +
    '\n\n' +
    propsText([`Added by onnxserve's KServe entry: listen where KServe routes (from ${o.configFile}).`], overrides);
  const args = ['--ts-config', configOut];
  if (o.fs.isDirectory(o.store)) args.push('--model-store', o.store);
  else notes.push(`No ${o.store}: the model store is the config's model_store (${props.model_store ?? 'unset'})`);
  if (props.load_models === undefined && props.model_snapshot === undefined) {
    args.push('--models', 'all');
    notes.push(`${o.configFile} names no models (load_models, model_snapshot): serving every archive in the model store`);
  }
  return { args, files: [{ path: configOut, content }] };
}

/** Archives and no-archive folders among `names` in `dir`. */
function modelEntries(dir: string, names: readonly string[], fsx: LayoutFs): string[] {
  return names
    .filter((n) => !n.startsWith('.'))
    .filter((n) => {
      const p = path.join(dir, n);
      return fsx.isDirectory(p) ? n !== 'lost+found' : ARCHIVE.test(n);
    })
    .sort();
}

/** `--models` value for one entry of `store` served under `name`: a file by its name, a folder by its absolute path. */
function modelsArg(name: string, store: string, entry: string, fsx: LayoutFs): string {
  const p = path.join(store, entry);
  return `${name}=${fsx.isDirectory(p) ? p : entry}`;
}

/**
 * Plans the onnxserve start for a KServe runtime container. Throws KServeLayoutError when the
 * arguments are malformed or the model dir holds nothing servable.
 */
export function kserveLaunchArgs(opts: KServeLaunchOptions): KServeLaunchPlan {
  const notes: string[] = [];
  const { flags, rest } = splitArgs(opts.argv ?? []);
  const env = opts.env;

  const modelDir = path.resolve(opts.modelDir ?? flags.model_dir ?? KSERVE_MODEL_DIR);
  let httpPort = KSERVE_HTTP_PORT;
  if (flags.http_port !== undefined) {
    httpPort = portOf(flags.http_port, '--http_port');
    if (env.PORT !== undefined && env.PORT !== flags.http_port) notes.push(`--http_port ${httpPort} wins over PORT=${env.PORT}`);
  } else if (env.PORT !== undefined && env.PORT !== '') {
    httpPort = portOf(env.PORT, 'PORT');
    notes.push(`HTTP port from PORT: ${httpPort}`);
  }
  const grpcPort = flags.grpc_port === undefined ? undefined : portOf(flags.grpc_port, '--grpc_port');
  if (grpcPort !== undefined) notes.push(`gRPC inference (TorchServe's and OIP's GRPCInferenceService, KServe grpc-v2) on 0.0.0.0:${grpcPort}`);
  for (const key of ['PROTOCOL', 'PROTOCOL_VERSION'] as const) {
    const v = env[key];
    if (v) notes.push(`${key}=${v}: onnxserve serves both v1 (/v1/models/...) and v2 (/v2/...) on the same port${v.startsWith('grpc') && grpcPort === undefined ? '; gRPC needs --grpc_port' : ''}`);
  }
  if (env.STORAGE_URI) notes.push(`STORAGE_URI=${env.STORAGE_URI} (downloaded by KServe's storage initializer into ${modelDir})`);
  if (env.TS_SERVICE_ENVELOPE !== undefined) {
    notes.push(`TS_SERVICE_ENVELOPE=${env.TS_SERVICE_ENVELOPE} only shapes /predictions (and only with enable_envvars_config=true); /v1 and /v2 are native`);
  }

  const modelName = modelNameFrom(opts.modelName ?? flags.model_name, env, notes);
  const base = ['--start', '--foreground', '--ncs'];
  const plan = (layout: KServeLayout, p: Partial<Pick<KServeLaunchPlan, 'args' | 'clean' | 'dirs' | 'files' | 'links'>>): KServeLaunchPlan => ({
    args: [...base, ...(p.args ?? []), ...rest],
    notes,
    layout,
    modelName,
    modelDir,
    httpPort,
    clean: p.clean ?? [],
    dirs: p.dirs ?? [],
    files: p.files ?? [],
    links: p.links ?? [],
  });

  const explicit = rest.find((a) => EXPLICIT_FLAGS.some((f) => a === f || a.startsWith(`${f}=`)));
  if (explicit !== undefined) {
    notes.push(`${explicit.split('=')[0]} given: the KServe layout of ${modelDir} is not applied`);
    if (grpcPort !== undefined) notes.push(`--grpc_port ${grpcPort} not applied either: set grpc_inference_address/grpc_inference_port in your config`);
    return plan('explicit', {});
  }

  const fsx = opts.fs;
  if (!fsx.isDirectory(modelDir)) {
    throw new KServeLayoutError(`Model dir ${modelDir} not found: KServe's storage initializer downloads the InferenceService's storageUri there`);
  }
  const configFile = path.join(modelDir, 'config', 'config.properties');
  const store = path.join(modelDir, 'model-store');
  const generatedConfigFile = path.join(opts.workDir, 'config.properties');
  const configArgs = ['--ts-config', generatedConfigFile];

  // 1. TorchServe's KServe layout.
  if (fsx.exists(configFile)) {
    notes.push(`TorchServe KServe layout: ${configFile}`);
    const p = torchserveLayout({ modelDir, configFile, store, httpPort, grpcPort, workDir: opts.workDir, fs: fsx }, notes);
    return plan('torchserve', { ...p, dirs: [opts.workDir] });
  }

  const generated = (layout: KServeLayout, storeDir: string) => ({ path: generatedConfigFile, content: generatedConfig(layout, modelDir, storeDir, httpPort, grpcPort) });

  // 2. A model store without a config.
  if (fsx.isDirectory(store)) {
    const entries = modelEntries(store, fsx.listDir(store), fsx);
    if (entries.length === 0) throw new KServeLayoutError(`${store} holds no model archive (.mar, .tar.gz, .tgz or a model folder)`);
    const models = entries.length === 1 ? modelsArg(modelName, store, entries[0] as string, fsx) : 'all';
    notes.push(entries.length === 1 ? `Serving ${entries[0]} of ${store} as "${modelName}"` : `Serving every archive of ${store} under its own name: ${entries.join(', ')}`);
    return plan('model-store', {
      args: [...configArgs, '--model-store', store, '--models', models],
      dirs: [opts.workDir],
      files: [generated('model-store', store)],
    });
  }

  const names = fsx.listDir(modelDir);

  // 3. The model dir is itself a no-archive model.
  if (fsx.exists(path.join(modelDir, 'MAR-INF', 'MANIFEST.json'))) {
    notes.push(`${modelDir} is a no-archive model (MAR-INF/MANIFEST.json): serving it as "${modelName}"`);
    return plan('folder-archive', {
      args: [...configArgs, '--model-store', modelDir, '--models', `${modelName}=${modelDir}`],
      dirs: [opts.workDir],
      files: [generated('folder-archive', modelDir)],
    });
  }

  // 4. Archives at the top (a single-file storageUri such as gs://bucket/iris.mar).
  const archives = names.filter((n) => !n.startsWith('.') && ARCHIVE.test(n) && !fsx.isDirectory(path.join(modelDir, n))).sort();
  if (archives.length > 0) {
    const models = archives.length === 1 ? `${modelName}=${archives[0]}` : 'all';
    notes.push(archives.length === 1 ? `Serving ${archives[0]} as "${modelName}"` : `Serving every archive under its own name: ${archives.join(', ')}`);
    return plan('archives', {
      args: [...configArgs, '--model-store', modelDir, '--models', models],
      dirs: [opts.workDir],
      files: [generated('archives', modelDir)],
    });
  }

  // 5. A bare ONNX model: a generated no-archive folder that links to the files.
  const onnx = names.filter((n) => ONNX.test(n) && !fsx.isDirectory(path.join(modelDir, n))).sort();
  if (onnx.length > 0) {
    const chosen = onnx.includes('model.onnx') ? 'model.onnx' : onnx.length === 1 ? onnx[0] : undefined;
    if (chosen === undefined) {
      throw new KServeLayoutError(`Several ONNX models in ${modelDir} (${onnx.join(', ')}) and none is model.onnx: name one model.onnx`);
    }
    if (onnx.length > 1) notes.push(`Serving model.onnx; ${onnx.filter((n) => n !== chosen).join(', ')} only linked beside it (e.g. external data)`);
    const genStore = path.join(opts.workDir, 'model-store');
    const folder = path.join(genStore, modelName);
    // Every other file goes beside it: external tensor data, index_to_name.json, model-config.yaml.
    const links = names
      .filter((n) => !n.startsWith('.') && n !== 'MAR-INF' && n !== 'lost+found')
      .sort()
      .map((n) => ({ path: path.join(folder, n), target: path.join(modelDir, n) }));
    const hasConfig = names.includes('model-config.yaml');
    const manifest = manifestText(
      {
        modelName,
        version: '1.0',
        handler: 'base_handler',
        runtime: 'python',
        serializedFile: chosen,
        ...(hasConfig ? { configFile: 'model-config.yaml' } : {}),
      },
      opts.now ?? new Date(),
    );
    notes.push(`Bare ONNX model ${path.join(modelDir, chosen)}: serving it as "${modelName}" from the generated folder ${folder}`);
    return plan('onnx', {
      args: [...configArgs, '--model-store', genStore, '--models', `${modelName}=${folder}`],
      clean: [genStore],
      dirs: [opts.workDir, path.join(folder, 'MAR-INF')],
      files: [generated('onnx', genStore), { path: path.join(folder, 'MAR-INF', 'MANIFEST.json'), content: manifest }],
      links,
    });
  }

  const seen = names.length === 0 ? 'it is empty' : `found: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', ...' : ''}`;
  throw new KServeLayoutError(
    `Nothing to serve in ${modelDir} (${seen}). Expected config/config.properties + model-store/ (TorchServe's KServe layout), ` +
      'model-store/, a .mar/.tar.gz archive, a model folder with MAR-INF/MANIFEST.json, or model.onnx',
  );
}

/** The real file system for `kserveLaunchArgs`. */
export const nodeLayoutFs: LayoutFs = {
  exists: (p) => fs.existsSync(p),
  isDirectory: (p) => {
    try {
      return fs.statSync(p).isDirectory();
    } catch {
      return false;
    }
  },
  listDir: (p) => {
    try {
      return fs.readdirSync(p);
    } catch {
      return [];
    }
  },
  readFile: (p) => {
    try {
      return fs.readFileSync(p, 'utf8');
    } catch {
      return undefined;
    }
  },
};

/** Carries out a plan's clean-up, folders, files (mode 0644) and links, in that order. */
export function applyLaunchPlan(plan: Pick<KServeLaunchPlan, 'clean' | 'dirs' | 'files' | 'links'>): void {
  for (const p of plan.clean) fs.rmSync(p, { recursive: true, force: true });
  for (const d of plan.dirs) fs.mkdirSync(d, { recursive: true });
  for (const f of plan.files) {
    fs.mkdirSync(path.dirname(f.path), { recursive: true });
    fs.writeFileSync(f.path, f.content, { mode: 0o644 });
  }
  for (const l of plan.links) {
    fs.rmSync(l.path, { force: true });
    fs.symlinkSync(l.target, l.path);
  }
}
